package rivers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Timeout returns middleware that gives each attempt at most d: the
// handler's ctx is cancelled after d, and an attempt that fails because of
// it returns a transient error (retried). A handler must honour ctx for the
// timeout to cut it short. d <= 0 disables the timeout.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		if d <= 0 {
			return next
		}
		return func(ctx context.Context, ev Event, pub Publisher) error {
			tctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			err := next(tctx, ev, pub)
			if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("rivers: handler timed out after %s: %w", d, err)
			}
			return err
		}
	}
}
