package rivers

import (
	"context"
	"sync/atomic"
	"time"
)

// Clock is the service's source of time: timers, heartbeats, retry backoff
// and use-by checks all read it. [SystemClock] is the real one; the
// riverstest package has a manual one so tests run timers on demand.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed, unless
	// the returned stop function is called first; stop reports whether it
	// prevented the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
	// Sleep waits for d or until ctx is done, and then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Sleep waits for d or until ctx is done.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// clockRef is the service's clock: SystemClock until Serve installs the
// one it was given. Readers (HTTP handlers, Publish callers) may run while
// Serve starts, hence the atomic.
type clockRef struct{ p atomic.Pointer[Clock] }

func newClockRef(c Clock) *clockRef {
	r := &clockRef{}
	r.set(c)
	return r
}

func (r *clockRef) set(c Clock) { r.p.Store(&c) }

func (r *clockRef) get() Clock { return *r.p.Load() }

// Now returns the current clock's time.
func (r *clockRef) Now() time.Time { return r.get().Now() }

// AfterFunc schedules on the current clock.
func (r *clockRef) AfterFunc(d time.Duration, f func()) func() bool { return r.get().AfterFunc(d, f) }

// Sleep sleeps on the current clock.
func (r *clockRef) Sleep(ctx context.Context, d time.Duration) error { return r.get().Sleep(ctx, d) }
