package rivers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// ServeOption configures one [Service.Serve].
type ServeOption func(*serveOptions)

type serveOptions struct {
	clock Clock
}

// WithClock sets the clock of timers, heartbeats, retry backoff, use-by
// checks and published times. Default: [SystemClock]. The riverstest
// package passes a manual clock.
func WithClock(c Clock) ServeOption { return func(o *serveOptions) { o.clock = c } }

// runtime is the state of one Serve.
type runtime struct {
	send  *sender
	sub   Subscription
	hard  context.Context // handlers and the sender; cancelled at the shutdown deadline
	drain context.Context // the caller's: done when the shutdown starts
	index []*topicIndex
	parts *partitions // nil unless the service keeps state per partition

	timerMu sync.Mutex
	stopped bool
	seq     uint64
	pending map[uint64]func() bool // stop functions of scheduled timers
	running sync.WaitGroup
}

// topicIndex finds the rivers of one topic by event type.
type topicIndex struct {
	topic  string
	exact  map[string]*typeRoute
	prefix []*riverEntry
	cache  map[string]*typeRoute // routes of types matched by prefix rivers
}

// typeRoute is the rivers that want one event type, with their metric
// labels built once.
type typeRoute struct {
	typ     string
	entries []*riverEntry
	metrics []*riverMetrics // parallel to entries
}

// readsPayload reports whether a river of the route may read payload keys.
// Rivers that declare none (monitors, taps: attributes only) need no
// schema check of the payload.
func (r *typeRoute) readsPayload() bool {
	for _, e := range r.entries {
		if len(e.river.declared) > 0 {
			return true
		}
	}
	return false
}

func (s *Service) runtimeRef() *runtime { return s.rt.Load() }

// Serve runs the service over tr until ctx is done, then stops gracefully
// within Config.ShutdownTimeout: it stops fetching, finishes the event in
// hand (retries stop), stops the timers, publishes
// system.service.stopping.v1, sends every pending publication, commits,
// and leaves the consumer group. It returns nil after a clean stop, an
// error when it could not start or the deadline cut the stop short. tr
// stays open: its owner closes it. A Service serves once.
//
// Serve publishes system.service.started.v1 at the start and a
// system.heartbeat.v1 at once and every Config.HeartbeatInterval.
func (s *Service) Serve(ctx context.Context, tr Transport, opts ...ServeOption) error {
	so := serveOptions{clock: SystemClock{}}
	for _, o := range opts {
		o(&so)
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("rivers: Serve: the service has already run; build a new one")
	}
	if err := s.checkDeclaredTypes(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.started = true
	s.clock.set(so.clock)
	s.startedAt = so.clock.Now()
	entries := slices.Clone(s.rivers)
	for _, e := range entries {
		if e.handler != nil {
			e.handler = s.chain(e.handler, e.mws, e.internal)
		}
		e.proven = rulesProven(s.validator, e.river)
	}
	s.warnUnauthenticated(entries)
	timers := slices.Clone(s.timers)
	for _, t := range timers {
		t.handler = s.chain(t.handler, t.mws, false)
	}
	s.mu.Unlock()

	hard, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hardCancel()
	rt := &runtime{hard: hard, drain: ctx, index: s.buildIndex(entries)}
	topics := make([]string, 0, len(rt.index))
	for _, ti := range rt.index {
		topics = append(topics, ti.topic)
	}
	slices.Sort(topics)
	if len(topics) > 0 {
		sub, err := tr.Subscribe(ctx, s.cfg.Group, topics)
		if err != nil {
			return fmt.Errorf("rivers: subscribe group %s to %v: %w", s.cfg.Group, topics, err)
		}
		rt.sub = sub
		lag := func() int64 { return lagOf(sub) }
		s.tel.lag.Store(&lag)
		if eo, ok := sub.(EndOffsetReporter); ok {
			go s.watchEnds(ctx, eo)
		}
	}
	if rt.parts = newPartitions(s, rt); rt.parts != nil {
		go rt.parts.watch(ctx)
	}
	rt.send = newSender(s, tr, rt.sub, hard)
	go rt.send.run()
	s.rt.Store(rt)
	for _, t := range timers {
		s.startTimer(rt, t)
	}
	s.serving.Store(true)
	s.log.Info("service started", "group", s.cfg.Group, "topics", topics, "rivers", len(entries), "timers", len(timers))
	s.announceStarted(rt)
	s.startHeartbeats(rt)

	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		if rt.sub != nil {
			s.consume(rt)
		}
	}()
	<-ctx.Done()

	// Graceful stop.
	s.serving.Store(false)
	reason := "context cancelled"
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		reason = c.Error()
	}
	s.log.Info("service stopping", "reason", reason, "timeout", s.cfg.ShutdownTimeout)
	deadline := time.AfterFunc(s.cfg.ShutdownTimeout, hardCancel)
	defer deadline.Stop()
	select {
	case <-consumed:
	case <-hard.Done(): // a handler ignores its context: stop without it
		s.log.Error("a handler did not return within SHUTDOWN_TIMEOUT; its event is redelivered", "timeout", s.cfg.ShutdownTimeout)
	}
	s.stopTimers(rt)
	s.announceStopping(rt, reason)
	rt.send.close()
	var errs []error
	if rt.sub != nil {
		if err := rt.sub.Close(); err != nil {
			errs = append(errs, fmt.Errorf("rivers: leave group: %w", err))
		}
	}
	if hard.Err() != nil {
		errs = append(errs, fmt.Errorf("rivers: shutdown cut short after SHUTDOWN_TIMEOUT (%s): unacknowledged work is redelivered", s.cfg.ShutdownTimeout))
	}
	if err := s.tracing.shutdown(context.WithoutCancel(ctx)); err != nil {
		errs = append(errs, fmt.Errorf("rivers: flush traces: %w", err))
	}
	s.log.Info("service stopped")
	return errors.Join(errs...)
}

func (s *Service) buildIndex(entries []*riverEntry) []*topicIndex {
	var idx []*topicIndex
	get := func(topic string) *topicIndex {
		for _, ti := range idx {
			if ti.topic == topic {
				return ti
			}
		}
		ti := &topicIndex{topic: topic, exact: map[string]*typeRoute{}}
		idx = append(idx, ti)
		return ti
	}
	for _, e := range entries {
		ti := get(e.topic)
		for _, t := range e.river.types {
			r := ti.exact[t]
			if r == nil {
				r = &typeRoute{typ: t}
				ti.exact[t] = r
			}
			r.entries = append(r.entries, e)
			r.metrics = append(r.metrics, s.tel.riverMetrics(t, e.river.Name()))
		}
		if len(e.river.prefixes) > 0 {
			ti.prefix = append(ti.prefix, e)
		}
	}
	return idx
}

// chain wraps a handler in the SDK's and the service's middleware; the
// SDK's own rivers skip the service's.
func (s *Service) chain(h Handler, own []Middleware, internal bool) Handler {
	mws := []Middleware{s.metricsMiddleware(), s.tracingMiddleware()}
	if !internal {
		mws = append(mws, s.mws...)
	}
	mws = append(mws, own...)
	mws = append(mws, Retry(s.cfg.Retry), Timeout(s.cfg.HandlerTimeout), Recoverer(), attempt)
	return Chain(h, mws...)
}

func lagOf(sub Subscription) int64 {
	if l, ok := sub.(LagReporter); ok {
		return l.Lag()
	}
	return 0
}

// checkDeclaredTypes refuses to start a service that declares it publishes
// a type no schema describes: every such Publish would fail, and every
// event that leads to one would be dead-lettered. Called with s.mu held.
func (s *Service) checkDeclaredTypes() error {
	ti, ok := s.validator.(TypeDescriber)
	if !ok {
		return nil
	}
	var errs []error
	for t := range s.declared {
		if _, err := ti.Info(t); errors.Is(err, ErrUnknownType) {
			errs = append(errs, fmt.Errorf("rivers: %s declares it publishes %s, which no schema describes: "+
				"add contracts/schemas/%s.json (contracts/README.md, \"Adding a type or a version\"), "+
				"or give the service its own schema with rivers.WithValidator(rivers.Validators(catalog.Default(), yours))", s.cfg.Name, t, t))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// warnUnauthenticated says, once at start, that the control events the
// service consumes take effect from anyone, when it has no trust list.
func (s *Service) warnUnauthenticated(entries []*riverEntry) {
	if s.auth.trust != nil {
		return
	}
	var types []string
	for t := range s.auth.types {
		for _, e := range entries {
			if e.river.matchType(t) {
				types = append(types, t)
				break
			}
		}
	}
	if len(types) > 0 {
		slices.Sort(types)
		s.log.Warn("control events are not authenticated: anyone who can write to the topic can send these; set CONTROL_TRUST_FILE (see rivers/README.md, \"Control events\")",
			"types", types)
	}
}
