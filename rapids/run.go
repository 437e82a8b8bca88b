package rapids

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// Handler processes one record. Returning nil commits it. A retryable
// error (any error not marked Permanent) is retried with backoff; a
// permanent one goes to the OnPermanent hook. The handler must respect ctx:
// when Run's context ends, the record in hand is not committed and is
// delivered again later.
type Handler func(ctx context.Context, r Record) error

// RetryPolicy is a capped exponential backoff with jitter.
type RetryPolicy struct {
	// Initial is the wait before the first retry. Default 100ms.
	Initial time.Duration
	// Max caps the wait between two tries. Default 10s.
	Max time.Duration
	// MaxAttempts is how many times a record is tried before its retryable
	// error is treated as permanent (wrapping ErrRetriesExhausted). 0 (the
	// default) retries until success or shutdown: a record is never given
	// up for an error its handler calls retryable.
	MaxAttempts int
}

// DefaultRetryPolicy is the policy Run uses unless WithRetry says otherwise.
var DefaultRetryPolicy = RetryPolicy{Initial: 100 * time.Millisecond, Max: 10 * time.Second}

func (p RetryPolicy) validate() error {
	if p.Initial <= 0 || p.Max < p.Initial || p.MaxAttempts < 0 {
		return fmt.Errorf("rapids: retry policy %+v: want 0 < Initial <= Max and MaxAttempts >= 0", p)
	}
	return nil
}

// backoff returns the wait before try attempt+1 (attempt >= 1): Initial
// doubled per attempt, capped at Max, the upper half jittered.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.Initial
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Run fetches records, runs h on each and commits it after h succeeds,
// until ctx ends (then it returns nil) or a failure no retry can fix.
//
//   - h returns nil: the record is committed.
//   - h returns a retryable error: h is called again on the same record
//     after a capped exponential backoff (WithRetry), so the partition
//     waits and per-key order holds.
//   - h returns a permanent error (Permanent), panics, or exhausts
//     RetryPolicy.MaxAttempts: the OnPermanent hook gets the record and the
//     error (to dead-letter it), then the record is committed.
//
// Fetch errors the consumer can recover from are logged and retried. Run
// returns ErrClosed when the Consumer is closed under it, and a permanent
// fetch, commit or OnPermanent error as is.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	fetchFailures := 0
	for {
		rec, err := c.Fetch(ctx)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, ErrClosed), IsPermanent(err):
				return err
			}
			fetchFailures++
			c.log.Warn("rapids: fetch failed; retrying", "err", err, "attempt", fetchFailures)
			if !sleep(ctx, c.opts.retry.backoff(fetchFailures)) {
				return nil
			}
			continue
		}
		fetchFailures = 0
		if err := c.handle(ctx, rec, h); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := c.Commit(ctx, rec); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if IsRetryable(err) { // the offset stays pending; a later commit covers it
				c.log.Warn("rapids: commit failed; will retry", "record", rec.String(), "err", err)
				continue
			}
			return err
		}
	}
}

// handle runs h on rec until it succeeds or fails permanently, then hands a
// permanent failure to OnPermanent. It returns nil when rec may be committed.
func (c *Consumer) handle(ctx context.Context, rec Record, h Handler) error {
	for attempt := 1; ; attempt++ {
		err := callHandler(ctx, h, rec)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !IsPermanent(err) {
			if limit := c.opts.retry.MaxAttempts; limit == 0 || attempt < limit {
				c.log.Warn("rapids: handler failed; retrying", "record", rec.String(), "attempt", attempt, "err", err)
				if !sleep(ctx, c.opts.retry.backoff(attempt)) {
					return ctx.Err()
				}
				continue
			}
			err = Permanent(fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt, err))
		}
		return c.permanent(ctx, rec, err)
	}
}

func (c *Consumer) permanent(ctx context.Context, rec Record, cause error) error {
	if c.opts.onPermanent == nil {
		typ, _ := contracts.HeaderValue(rec.Headers, contracts.HeaderType)
		id, _ := contracts.HeaderValue(rec.Headers, contracts.HeaderID)
		c.log.Error("rapids: handler failed permanently; record skipped (set WithOnPermanent to dead-letter it)",
			"record", rec.String(), "ce_type", string(typ), "ce_id", string(id), "err", cause)
		return nil
	}
	for attempt := 1; ; attempt++ {
		err := c.opts.onPermanent(ctx, rec, cause)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if IsPermanent(err) {
			return fmt.Errorf("rapids: OnPermanent for record %s: %w", rec, err)
		}
		c.log.Warn("rapids: OnPermanent failed; retrying", "record", rec.String(), "attempt", attempt, "err", err)
		if !sleep(ctx, c.opts.retry.backoff(attempt)) {
			return ctx.Err()
		}
	}
}

// callHandler runs h and turns a panic into a permanent error: a handler
// that panics on a record would panic on it again.
func callHandler(ctx context.Context, h Handler, rec Record) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("rapids: handler panicked on record %s: %v\n%s", rec, p, debug.Stack()))
		}
	}()
	return h(ctx, rec)
}
