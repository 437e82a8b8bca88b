package rivers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how often and how patiently a transient failure is
// retried. The zero value means the defaults.
type RetryPolicy struct {
	// Attempts is the number of attempts, the first included. 1 disables
	// retries. Default 5 (RETRY_ATTEMPTS).
	Attempts int
	// Backoff is the wait before the second attempt; each further wait
	// doubles, with ±20% jitter. Default 100ms (RETRY_BACKOFF).
	Backoff time.Duration
	// MaxBackoff caps the wait between attempts. Default 10s
	// (RETRY_MAX_BACKOFF).
	MaxBackoff time.Duration
}

// Defaults of RetryPolicy.
const (
	DefaultRetryAttempts   = 5
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultRetryMaxBackoff = 10 * time.Second
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts == 0 {
		p.Attempts = DefaultRetryAttempts
	}
	if p.Backoff == 0 {
		p.Backoff = DefaultRetryBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultRetryMaxBackoff
	}
	return p
}

// wait returns the backoff after attempt n (1-based), capped and jittered.
func (p RetryPolicy) wait(n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// Retry returns middleware that calls the handler again after a transient
// error (any error not [IsPermanent]), waiting with capped exponential
// backoff on the service's clock, up to p.Attempts attempts. It returns nil
// as soon as an attempt succeeds, a permanent error or [ErrRetired] at once,
// and when attempts run out the last error, wrapped with the attempt count.
// It stops early, returning the error, when ctx is done or the service
// begins to stop (the event is then not committed, and is delivered again). [Delivery].Attempt
// counts the attempts.
func Retry(p RetryPolicy) Middleware {
	p = p.withDefaults()
	return func(next Handler) Handler {
		return func(ctx context.Context, ev Event, pub Publisher) error {
			d := deliveryOf(ctx)
			for n := 1; ; n++ {
				if d != nil {
					d.Attempt = n
				}
				err := next(ctx, ev, pub)
				if err == nil || IsPermanent(err) || isRetired(err) || ctx.Err() != nil {
					return err
				}
				if n >= p.Attempts {
					return fmt.Errorf("rivers: gave up after %d attempts: %w", n, err)
				}
				if d != nil && d.log != nil {
					Logger(ctx).Warn("handler failed, retrying", "attempt", n, "error", err)
				}
				sleepCtx := ctx
				if d != nil && d.drain != nil {
					sleepCtx = d.drain // the service is stopping: no more attempts
				}
				if serr := clockOf(ctx).Sleep(sleepCtx, p.wait(n)); serr != nil {
					if ctx.Err() == nil {
						return &interruptedError{err: err}
					}
					return err
				}
			}
		}
	}
}
