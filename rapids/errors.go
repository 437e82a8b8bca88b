package rapids

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/contracts"
)

// ErrClosed is returned by every call on a closed Producer or Consumer.
var ErrClosed = errors.New("rapids: closed")

// ErrRetriesExhausted wraps a retryable handler error that was retried
// RetryPolicy.MaxAttempts times; Run then treats it as permanent.
var ErrRetriesExhausted = errors.New("rapids: retries exhausted")

// permanentError marks an error that no retry can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: retrying the same record can never
// succeed (bad input, a contract violation), so Consumer.Run hands the record
// to its OnPermanent hook (to dead-letter it) and commits it instead of
// retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether retrying cannot fix err: it was marked with
// Permanent, it is a contracts decoding error (the same bytes never decode
// later), or Kafka refused the request for a reason a retry does not change
// (record too large, authorization or authentication failed, invalid topic,
// invalid record, unsupported version or codec).
func IsPermanent(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case *permanentError, *contracts.DecodeError, kafka.MessageTooLargeError:
		return true
	case kafka.Error:
		return permanentKafkaError(e)
	}
	// Walk the whole tree: one permanent failure among several (a
	// PublishError, errors.Join) makes the whole permanent.
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return IsPermanent(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if IsPermanent(e) {
				return true
			}
		}
	}
	return false
}

// IsRetryable reports whether trying the same operation again may succeed:
// err is not nil, not permanent, and not the end of the caller's context or
// of the Producer or Consumer.
func IsRetryable(err error) bool {
	if err == nil || IsPermanent(err) || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return false
	}
	return true
}

func permanentKafkaError(e kafka.Error) bool {
	switch e {
	case kafka.MessageSizeTooLarge,
		kafka.RecordListTooLarge,
		kafka.InvalidTopic,
		kafka.InvalidRecord,
		kafka.InvalidMessageSize,
		kafka.InvalidTimestamp,
		kafka.InvalidRequest,
		kafka.InvalidRequiredAcks,
		kafka.TopicAuthorizationFailed,
		kafka.GroupAuthorizationFailed,
		kafka.ClusterAuthorizationFailed,
		kafka.TransactionalIDAuthorizationFailed,
		kafka.SASLAuthenticationFailed,
		kafka.UnsupportedSASLMechanism,
		kafka.IllegalSASLState,
		kafka.UnsupportedVersion,
		kafka.UnsupportedForMessageFormat,
		kafka.UnsupportedCompressionType,
		kafka.InvalidConfiguration,
		kafka.InvalidPartitionNumber,
		kafka.InvalidReplicationFactor,
		kafka.PolicyViolation,
		kafka.TopicDeletionDisabled:
		return true
	}
	return false
}

// PublishError reports which records of one Publish call failed. Errs is
// index-aligned with the records passed to Publish: nil for a record that
// was acknowledged. errors.Is and errors.As see every failure, so
// IsPermanent(err) is true when at least one record can never be published.
type PublishError struct {
	Errs []error
}

// Failed returns how many records failed.
func (e *PublishError) Failed() int {
	n := 0
	for _, err := range e.Errs {
		if err != nil {
			n++
		}
	}
	return n
}

func (e *PublishError) Error() string {
	var first error
	for _, err := range e.Errs {
		if err != nil {
			first = err
			break
		}
	}
	return "rapids: publish: " + strconv.Itoa(e.Failed()) + " of " + strconv.Itoa(len(e.Errs)) +
		" records failed: " + fmt.Sprint(first)
}

// Unwrap returns the distinct failures, so errors.Is and errors.As reach them.
func (e *PublishError) Unwrap() []error {
	var out []error
	seen := make(map[string]bool)
	for _, err := range e.Errs {
		if err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	return out
}
