package rivers

import (
	"context"
	"fmt"
	"time"
)

type timerEntry struct {
	name     string
	interval time.Duration // 0 for a one-shot timer
	delay    time.Duration
	handler  Handler
	mws      []Middleware
}

// Every runs fn every interval, first one interval after the service
// starts, on the service's clock. Runs do not overlap: a run that overlaps
// the next tick skips it. fn goes through the service's middleware
// (metrics, tracing, retries, panic recovery); its publications are origin
// events, sent when it returns nil. It panics on a non-positive interval,
// a name already used, or after the start.
func (s *Service) Every(interval time.Duration, name string, fn TimerFunc, mws ...Middleware) {
	if interval <= 0 {
		panic(fmt.Sprintf("rivers: Every %q: interval %s must be positive", name, interval))
	}
	s.addTimer(&timerEntry{name: name, interval: interval, delay: interval, handler: s.timerHandler(fn), mws: mws})
}

// After runs fn once, delay after the service starts, like [Service.Every].
func (s *Service) After(delay time.Duration, name string, fn TimerFunc, mws ...Middleware) {
	if delay < 0 {
		panic(fmt.Sprintf("rivers: After %q: delay %s must not be negative", name, delay))
	}
	s.addTimer(&timerEntry{name: name, delay: delay, handler: s.timerHandler(fn), mws: mws})
}

func (s *Service) timerHandler(fn TimerFunc) Handler {
	if fn == nil {
		panic("rivers: nil timer function")
	}
	return func(ctx context.Context, _ Event, pub Publisher) error {
		return fn(ctx, s.clock.Now(), pub)
	}
}

func (s *Service) addTimer(t *timerEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic(fmt.Sprintf("rivers: timer %q: the service has started", t.name))
	}
	if t.name == "" {
		panic("rivers: timer without a name")
	}
	for _, o := range s.timers {
		if o.name == t.name {
			panic(fmt.Sprintf("rivers: a timer named %q exists", t.name))
		}
	}
	s.timers = append(s.timers, t)
}

// schedule calls f after d on the service's clock unless the timers have
// stopped; f runs counted in rt.running so stopTimers can wait for it.
func (s *Service) schedule(rt *runtime, d time.Duration, f func()) {
	rt.timerMu.Lock()
	defer rt.timerMu.Unlock()
	if rt.stopped {
		return
	}
	if rt.pending == nil {
		rt.pending = map[uint64]func() bool{}
	}
	rt.seq++
	id := rt.seq
	rt.pending[id] = func() bool { return false }
	stop := s.clock.AfterFunc(d, func() {
		rt.timerMu.Lock()
		_, live := rt.pending[id]
		delete(rt.pending, id)
		if rt.stopped || !live {
			rt.timerMu.Unlock()
			return
		}
		rt.running.Add(1)
		rt.timerMu.Unlock()
		defer rt.running.Done()
		f()
	})
	if _, ok := rt.pending[id]; ok {
		rt.pending[id] = stop
	}
}

func (s *Service) startTimer(rt *runtime, t *timerEntry) {
	next := s.clock.Now().Add(t.delay)
	var tick func()
	tick = func() {
		s.runTimer(rt, t)
		if t.interval == 0 {
			return
		}
		now := s.clock.Now()
		for !next.After(now) { // skip the ticks a long run overlapped
			next = next.Add(t.interval)
		}
		s.schedule(rt, next.Sub(now), tick)
	}
	s.schedule(rt, t.delay, tick)
}

// runTimer runs a timer's handler and waits for its publications.
func (s *Service) runTimer(rt *runtime, t *timerEntry) {
	if rt.parts != nil && rt.parts.settling() {
		return // a rebalance is being handled: see PartitionState
	}
	d := &delivery{
		Delivery: Delivery{Service: s.cfg.Name, Timer: t.name, Attempt: 1},
		clock:    s.clock, log: s.log, drain: rt.drain,
		out: &collector{s: s},
	}
	err := t.handler(withDelivery(rt.hard, d), Event{}, d.out)
	if err != nil && !isRetired(err) {
		Logger(withDelivery(rt.hard, d)).Error("timer failed", "error", err, "attempts", d.Attempt)
		return
	}
	if len(d.out.out) == 0 {
		return
	}
	if err := rt.send.publish(rt.hard, d.out.out); err != nil {
		s.log.Error("timer publications not sent", "timer", t.name, "error", err)
	}
}

// stopTimers stops scheduling and waits for running timers.
func (s *Service) stopTimers(rt *runtime) {
	rt.timerMu.Lock()
	rt.stopped = true
	for id, stop := range rt.pending {
		stop()
		delete(rt.pending, id)
	}
	rt.timerMu.Unlock()
	done := make(chan struct{})
	go func() { rt.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-rt.hard.Done(): // a timer ignores its context: stop without it
		s.log.Error("a timer did not return within SHUTDOWN_TIMEOUT")
	}
}
