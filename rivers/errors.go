package rivers

import (
	"errors"
	"fmt"
)

// Sentinel errors. Branch on them with errors.Is.
var (
	// ErrPermanent marks a failure that no retry can fix: the event is
	// dead-lettered at once. Wrap a handler error with [Permanent].
	ErrPermanent = errors.New("permanent failure")

	// ErrRetired is returned by Publish for an event type the ecosystem has
	// retired for this service (system.retirement.v1). The event is
	// withheld and counted. A handler may return it unchanged: the SDK
	// treats it as done, not as a failure.
	ErrRetired = errors.New("event type retired")

	// ErrInvalidEvent is returned by Publish when the payload does not match
	// its type's schema, or the event cannot be built. It is permanent: a
	// producer bug must not pollute the river.
	ErrInvalidEvent = errors.New("invalid event")

	// ErrUndeclaredKey: a handler read a key its river did not declare with
	// Require, RequireValue, Forbid or Interested. Permanent.
	ErrUndeclaredKey = errors.New("key not declared by the river")

	// ErrMissingKey: a declared key is absent or null in this event.
	// Permanent.
	ErrMissingKey = errors.New("key absent")

	// ErrKeyType: a declared key holds another JSON type than the accessor
	// reads (a string read as a number, ...). Permanent.
	ErrKeyType = errors.New("key has another type")

	// ErrPanic: the handler panicked. The panic is recovered, counted and
	// the event dead-lettered with class "panic". Permanent.
	ErrPanic = errors.New("handler panicked")

	// ErrStopped is returned by Publish and Serve once the service stops.
	ErrStopped = errors.New("service stopped")
)

// Permanent marks err as permanent: the event that caused it is
// dead-lettered without retries. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrPermanent) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err is permanent: marked with [Permanent], or
// wrapping a permanent sentinel of this package.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// KeyError says which key of an event could not be read and why. It wraps
// [ErrUndeclaredKey], [ErrMissingKey] or [ErrKeyType], and [ErrPermanent].
type KeyError struct {
	River  string // the river's name
	Key    string // the dotted path that was read
	Reason string // detail, may be empty
	Err    error  // the sentinel
}

func (e *KeyError) Error() string {
	msg := fmt.Sprintf("rivers: river %q: key %q: %v", e.River, e.Key, e.Err)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap returns the sentinel and ErrPermanent.
func (e *KeyError) Unwrap() []error { return []error{e.Err, ErrPermanent} }

// PanicError is a recovered handler panic. It wraps [ErrPanic] and
// [ErrPermanent].
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("rivers: handler panicked: %v", e.Value) }

// Unwrap returns ErrPanic and ErrPermanent, and the panic value when it is an error.
func (e *PanicError) Unwrap() []error {
	errs := []error{ErrPanic, ErrPermanent}
	if err, ok := e.Value.(error); ok {
		errs = append(errs, err)
	}
	return errs
}

// interruptedError is a handler failure cut short by shutdown: the event is
// neither committed nor dead-lettered, and will be delivered again.
type interruptedError struct{ err error }

func (e *interruptedError) Error() string {
	return "rivers: retries interrupted by shutdown: " + e.err.Error()
}
func (e *interruptedError) Unwrap() error { return e.err }
