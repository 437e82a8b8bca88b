package rapids_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

func TestErrorClassification(t *testing.T) {
	_, decodeErr := contracts.DecodeBinary(contracts.Message{Value: []byte("{}")})
	if decodeErr == nil {
		t.Fatal("a message without headers decoded")
	}
	cases := []struct {
		name                 string
		err                  error
		permanent, retryable bool
	}{
		{"nil", nil, false, false},
		{"plain handler error", errors.New("database down"), false, true},
		{"marked permanent", rapids.Permanent(errors.New("bad reading")), true, false},
		{"permanent, wrapped", fmt.Errorf("handling: %w", rapids.Permanent(io.EOF)), true, false},
		{"contracts decode error", fmt.Errorf("decoding: %w", decodeErr), true, false},
		{"message too large (client)", kafka.MessageTooLargeError{}, true, false},
		{"message too large (broker)", fmt.Errorf("write: %w", kafka.MessageSizeTooLarge), true, false},
		{"topic authorization", kafka.TopicAuthorizationFailed, true, false},
		{"SASL authentication", kafka.SASLAuthenticationFailed, true, false},
		{"invalid replication factor", kafka.InvalidReplicationFactor, true, false},
		{"leader not available", kafka.LeaderNotAvailable, false, true},
		{"not enough replicas", kafka.NotEnoughReplicas, false, true},
		{"request timed out", kafka.RequestTimedOut, false, true},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false, true},
		{"context canceled", fmt.Errorf("fetch: %w", context.Canceled), false, false},
		{"deadline exceeded", context.DeadlineExceeded, false, true},
		{"closed", rapids.ErrClosed, false, false},
		{"publish error with one permanent record", &rapids.PublishError{Errs: []error{nil, kafka.LeaderNotAvailable, kafka.MessageSizeTooLarge}}, true, false},
		{"publish error, all retryable", &rapids.PublishError{Errs: []error{kafka.NotEnoughReplicas, nil}}, false, true},
	}
	for _, tc := range cases {
		if got := rapids.IsPermanent(tc.err); got != tc.permanent {
			t.Errorf("%s: IsPermanent = %v, want %v", tc.name, got, tc.permanent)
		}
		if got := rapids.IsRetryable(tc.err); got != tc.retryable {
			t.Errorf("%s: IsRetryable = %v, want %v", tc.name, got, tc.retryable)
		}
	}
}

func TestPermanentKeepsTheError(t *testing.T) {
	base := errors.New("bad reading")
	err := rapids.Permanent(base)
	if !errors.Is(err, base) || err.Error() != "bad reading" {
		t.Errorf("Permanent(%v) = %v: lost the cause", base, err)
	}
	if rapids.Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	if again := rapids.Permanent(err); again != err {
		t.Error("Permanent of a permanent error wrapped it again")
	}
}

func TestPublishError(t *testing.T) {
	pe := &rapids.PublishError{Errs: []error{nil, kafka.LeaderNotAvailable, kafka.LeaderNotAvailable, nil}}
	if pe.Failed() != 2 {
		t.Errorf("Failed() = %d, want 2", pe.Failed())
	}
	if !errors.Is(pe, kafka.LeaderNotAvailable) {
		t.Error("errors.Is does not reach the records' errors")
	}
	if want := "rapids: publish: 2 of 4 records failed: "; len(pe.Error()) < len(want) || pe.Error()[:len(want)] != want {
		t.Errorf("Error() = %q", pe.Error())
	}
}
