package rivers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRetryRetriesTransientErrors(t *testing.T) {
	d := &delivery{clock: SystemClock{}}
	ctx := withDelivery(context.Background(), d)
	calls := 0
	h := Retry(RetryPolicy{Attempts: 4, Backoff: time.Microsecond, MaxBackoff: time.Microsecond})(
		func(context.Context, Event, Publisher) error {
			calls++
			if calls < 3 {
				return errors.New("flaky")
			}
			return nil
		})
	if err := h(ctx, Event{}, nil); err != nil {
		t.Fatal(err)
	}
	if calls != 3 || d.Attempt != 3 {
		t.Errorf("calls %d, Attempt %d, want 3 and 3", calls, d.Attempt)
	}
}

func TestRetryGivesUpWithTheAttemptCount(t *testing.T) {
	d := &delivery{clock: SystemClock{}}
	ctx := withDelivery(context.Background(), d)
	cause := errors.New("database down")
	calls := 0
	h := Retry(RetryPolicy{Attempts: 3, Backoff: time.Microsecond, MaxBackoff: time.Microsecond})(
		func(context.Context, Event, Publisher) error { calls++; return cause })
	err := h(ctx, Event{}, nil)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "3 attempts") || calls != 3 || d.Attempt != 3 {
		t.Errorf("err %v after %d calls (Attempt %d), want the cause after 3", err, calls, d.Attempt)
	}
}

func TestRetryStopsOnPermanentAndRetired(t *testing.T) {
	for _, cause := range []error{Permanent(errors.New("bad")), ErrRetired, &PanicError{Value: 1}} {
		calls := 0
		h := Retry(RetryPolicy{Attempts: 5, Backoff: time.Microsecond})(
			func(context.Context, Event, Publisher) error { calls++; return cause })
		if err := h(context.Background(), Event{}, nil); !errors.Is(err, cause) || calls != 1 {
			t.Errorf("%v: %d calls, err %v; want one call", cause, calls, err)
		}
	}
}

func TestRetryStopsWhenTheServiceDrains(t *testing.T) {
	drain, stop := context.WithCancel(context.Background())
	stop()
	d := &delivery{clock: SystemClock{}, drain: drain}
	ctx := withDelivery(context.Background(), d)
	calls := 0
	h := Retry(RetryPolicy{Attempts: 5, Backoff: time.Hour, MaxBackoff: time.Hour})(
		func(context.Context, Event, Publisher) error { calls++; return errors.New("flaky") })
	err := h(ctx, Event{}, nil)
	var ie *interruptedError
	if !errors.As(err, &ie) || calls != 1 {
		t.Errorf("err %v after %d calls: want an interruption after one", err, calls)
	}
}

func TestRetryPolicyWaitIsCappedAndJittered(t *testing.T) {
	p := RetryPolicy{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}.withDefaults()
	for n, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second} {
		for range 20 {
			w := p.wait(n)
			if w < base*8/10 || w > base*12/10 {
				t.Fatalf("wait(%d) = %s, want %s ±20%%", n, w, base)
			}
		}
	}
}
