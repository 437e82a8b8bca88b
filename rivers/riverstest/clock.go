package riverstest

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is a manual [rivers.Clock]: time moves only when Advance is called,
// and Advance runs the timers that fall due, in time order, on the calling
// goroutine, so when it returns their work (and its publications) is done.
// Sleep returns at once without moving time: retries back off instantly.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*manualTimer
}

type manualTimer struct {
	at      time.Time
	seq     uint64
	f       func()
	stopped bool
}

// NewClock returns a clock at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d; Advance calls it.
func (c *Clock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &manualTimer{at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.stopped {
			return false
		}
		t.stopped = true
		return true
	}
}

// Sleep returns at once (ctx.Err() when ctx is done): time does not move.
func (c *Clock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// Advance moves the clock forward by d, running each timer that falls due
// at its time, earliest first (timers they schedule within d run too).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool {
			if !c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].at.Before(c.timers[j].at)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		var due *manualTimer
		for len(c.timers) > 0 {
			t := c.timers[0]
			if t.stopped {
				c.timers = c.timers[1:]
				continue
			}
			if !t.at.After(target) {
				due = t
				c.timers = c.timers[1:]
				due.stopped = true
				if due.at.After(c.now) {
					c.now = due.at
				}
			}
			break
		}
		if due == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		due.f()
	}
}

// Pending returns how many timers are scheduled.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}
