package contracts

import (
	"errors"
	"fmt"
)

// Sentinel errors of decoding. Every decoding failure is a *DecodeError that
// wraps exactly one of them, so callers branch with errors.Is and report the
// attribute with errors.As.
var (
	// ErrMissingAttribute: a required attribute is absent or empty.
	ErrMissingAttribute = errors.New("missing required attribute")
	// ErrInvalidAttribute: an attribute is present but cannot be parsed.
	ErrInvalidAttribute = errors.New("invalid attribute")
	// ErrUnsupportedSpecVersion: specversion is not "1.0".
	ErrUnsupportedSpecVersion = errors.New("unsupported specversion")
	// ErrTooLarge: the record or document exceeds the decoder's size limit.
	ErrTooLarge = errors.New("event too large")
	// ErrInvalidData: the data is not valid JSON.
	ErrInvalidData = errors.New("invalid data")
)

// DecodeError says which attribute of an event could not be decoded and why.
// Decoding errors are permanent: the same bytes never decode later, so the
// record belongs in a dead-letter topic, not in a retry loop.
type DecodeError struct {
	Attribute string // CloudEvents attribute name ("id", "time", "data", ...)
	Reason    string // human-readable detail
	Err       error  // one of the sentinel errors above
}

func (e *DecodeError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("cloudevent %s: %v", e.Attribute, e.Err)
	}
	return fmt.Sprintf("cloudevent %s: %v: %s", e.Attribute, e.Err, e.Reason)
}

func (e *DecodeError) Unwrap() error { return e.Err }

func missing(attr string) error {
	return &DecodeError{Attribute: attr, Err: ErrMissingAttribute}
}

func invalid(attr, reason string) error {
	return &DecodeError{Attribute: attr, Err: ErrInvalidAttribute, Reason: reason}
}
