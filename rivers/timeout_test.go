package rivers

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTimeoutCancelsASlowAttempt(t *testing.T) {
	h := Timeout(5 * time.Millisecond)(func(ctx context.Context, _ Event, _ Publisher) error {
		<-ctx.Done()
		return ctx.Err()
	})
	err := h(context.Background(), Event{}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
		t.Fatalf("err %v: want a transient deadline error", err)
	}
	fast := Timeout(time.Hour)(func(ctx context.Context, _ Event, _ Publisher) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		return nil
	})
	if err := fast(context.Background(), Event{}, nil); err != nil {
		t.Error(err)
	}
	off := Timeout(-1)(func(ctx context.Context, _ Event, _ Publisher) error {
		if _, ok := ctx.Deadline(); ok {
			return errors.New("a deadline although disabled")
		}
		return nil
	})
	if err := off(context.Background(), Event{}, nil); err != nil {
		t.Error(err)
	}
}
