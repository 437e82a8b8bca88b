package rivers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts"
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
}

// typeRoute is the rivers that want one event type, with their metric
// labels built once.
type typeRoute struct {
	typ     string
	entries []*riverEntry
	metrics []*riverMetrics // parallel to entries
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
	s.started = true
	s.clock.set(so.clock)
	s.startedAt = so.clock.Now()
	entries := slices.Clone(s.rivers)
	for _, e := range entries {
		e.handler = s.chain(e.handler, e.mws, e.internal)
	}
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
	if l, ok := sub.(lagger); ok {
		return l.Lag()
	}
	return 0
}

// Skipped records (no river wants them) are committed in bulk: with the
// next handled record, after maxPendingSkips of them, or skipFlushDelay
// after the first of them when nothing else came.
const (
	maxPendingSkips = 1024
	skipFlushDelay  = 200 * time.Millisecond
	preparedBuffer  = 64 // records decoded and validated ahead of the handlers
)

// skipSet is the last skipped record of each partition since the last
// commit. The preparing goroutine adds to it; a timer may flush it.
type skipSet struct {
	mu    sync.Mutex
	recs  []Record
	n     int
	timer *time.Timer
}

// add records a skipped record and reports whether the set is full.
func (k *skipSet) add(r *Record) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n == 0 {
		k.timer.Reset(skipFlushDelay)
	}
	k.n++
	for i := range k.recs {
		if k.recs[i].Partition == r.Partition && k.recs[i].Topic == r.Topic {
			k.recs[i] = *r
			return k.n >= maxPendingSkips
		}
	}
	k.recs = append(k.recs, *r)
	return k.n >= maxPendingSkips
}

// take empties the set.
func (k *skipSet) take() []Record {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n == 0 {
		return nil
	}
	k.timer.Stop()
	out := k.recs
	k.recs, k.n = nil, 0
	return out
}

// handoff carries prepared records from the preparing goroutine to the
// handling one: a mutex-guarded queue the handler takes whole, so under
// load records pass in batches, without a wake-up each.
type handoff struct {
	mu     sync.Mutex
	items  []*prepared
	closed bool
	ready  chan struct{} // signalled when items become non-empty, or on close
	space  chan struct{} // signalled when items are taken
}

func newHandoff() *handoff {
	return &handoff{ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// put queues p, waiting while preparedBuffer records wait already; false
// once ctx is done or the handoff closed.
func (h *handoff) put(ctx context.Context, p *prepared) bool {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return false
		}
		if len(h.items) < preparedBuffer {
			h.items = append(h.items, p)
			first := len(h.items) == 1
			h.mu.Unlock()
			if first {
				notify(h.ready)
			}
			return true
		}
		h.mu.Unlock()
		select {
		case <-h.space:
		case <-ctx.Done():
			return false
		}
	}
}

// take returns every queued record (in buf), waiting for one; false once
// ctx is done or the handoff is closed and empty.
func (h *handoff) take(ctx context.Context, buf []*prepared) ([]*prepared, bool) {
	for {
		h.mu.Lock()
		if n := len(h.items); n > 0 {
			buf = append(buf[:0], h.items...)
			clear(h.items)
			h.items = h.items[:0]
			h.mu.Unlock()
			notify(h.space)
			return buf, true
		}
		closed := h.closed
		h.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-h.ready:
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (h *handoff) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	notify(h.ready)
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// consume runs the two stages of consumption until the service drains:
// one goroutine fetches, decodes and validates records (prepareLoop), this
// one runs their rivers' handlers in order and hands the results to the
// sender. Records prepared but not handled when the service drains are not
// committed: they are delivered again.
func (s *Service) consume(rt *runtime) {
	ctx, cancel := context.WithCancel(rt.drain)
	defer cancel()
	h := newHandoff()
	go s.prepareLoop(rt, ctx, h)
	buf := make([]*prepared, 0, preparedBuffer)
	for {
		batch, ok := h.take(ctx, buf)
		if !ok {
			return
		}
		for _, p := range batch {
			if rt.drain.Err() != nil {
				return
			}
			it := p.it
			if it == nil && p.route != nil {
				if it, ok = s.handle(rt, p); !ok {
					return // interrupted by the shutdown: not committed, delivered again
				}
			}
			if it == nil {
				it = &item{}
			}
			it.skips = p.skips
			if rt.send.enqueue(it) != nil {
				return
			}
		}
		buf = batch
	}
}

// prepareLoop fetches records and prepares them (see prepare) until ctx
// ends, then closes h.
func (s *Service) prepareLoop(rt *runtime, ctx context.Context, h *handoff) {
	skips := &skipSet{}
	skips.timer = time.AfterFunc(time.Hour, func() {
		if recs := skips.take(); len(recs) > 0 {
			h.put(ctx, &prepared{skips: recs})
		}
	})
	skips.timer.Stop()
	defer func() {
		skips.timer.Stop()
		h.close()
	}()
	wait := 100 * time.Millisecond
	for {
		rec, err := rt.sub.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("fetch failed, retrying", "error", err, "wait", wait)
			if (SystemClock{}).Sleep(ctx, wait) != nil {
				return
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
		p := s.prepare(rt, &rec)
		if p == nil {
			if skips.add(&rec) && !h.put(ctx, &prepared{skips: skips.take()}) {
				return
			}
			continue
		}
		p.skips = skips.take()
		if !h.put(ctx, p) {
			return
		}
	}
}

// match returns the rivers of rec's topic that want its type, from the
// ce_type header alone; nil when none.
func (s *Service) match(rt *runtime, rec *Record, typ []byte) *typeRoute {
	var ti *topicIndex
	for _, t := range rt.index {
		if t.topic == rec.Topic {
			ti = t
			break
		}
	}
	if ti == nil {
		return nil
	}
	route := ti.exact[string(typ)]
	if len(ti.prefix) == 0 {
		return route
	}
	var extra []*riverEntry
	for _, e := range ti.prefix {
		if e.river.matchType(string(typ)) && (route == nil || !slices.Contains(route.entries, e)) {
			extra = append(extra, e)
		}
	}
	if len(extra) == 0 {
		return route
	}
	r := &typeRoute{typ: typeLabel(typ)}
	if route != nil {
		r.entries = slices.Clone(route.entries)
		r.metrics = slices.Clone(route.metrics)
	}
	for _, e := range extra {
		r.entries = append(r.entries, e)
		r.metrics = append(r.metrics, s.tel.riverMetrics(r.typ, e.river.Name()))
	}
	return r
}

// typeLabel is the metric label of a type matched by a pattern: the type
// when it looks like one, else "invalid", so garbage in ce_type headers
// cannot grow the label set without bound.
func typeLabel(typ []byte) string {
	if len(typ) == 0 || len(typ) > 128 {
		return "invalid"
	}
	for _, c := range typ {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return "invalid"
		}
	}
	return string(typ)
}

// prepared is a record after the first stage of the pipeline.
type prepared struct {
	rec   Record
	it    *item // set when the first stage decided the outcome (dead letter, dropped)
	route *typeRoute
	env   contracts.Event
	data  *payload
	key   string   // de-duplication key
	skips []Record // earlier records no river wanted, committed with this one
}

// dispatch runs one record through the whole pipeline (both stages) and
// returns the item to send and commit: nil for a record no river wants
// (committed later, in bulk); ok is false when the shutdown interrupted a
// handler (nothing is committed).
func (s *Service) dispatch(rt *runtime, rec *Record) (*item, bool) {
	p := s.prepare(rt, rec)
	switch {
	case p == nil:
		return nil, true
	case p.it != nil:
		return p.it, true
	}
	return s.handle(rt, p)
}

// prepare is the first stage: the type check on the ce_type header, then
// decoding, use-by, the loop cut-off, de-duplication and the schema. It
// returns nil for a record no river wants, without decoding or allocating.
func (s *Service) prepare(rt *runtime, rec *Record) *prepared {
	typ, hasType := contracts.HeaderValue(rec.Headers, contracts.HeaderType)
	route := s.match(rt, rec, typ)
	if route == nil {
		if hasType && len(typ) > 0 {
			s.tel.skipped.Add(1)
			return nil
		}
		// No ce_type at all on a topic this service reads: malformed for
		// everyone; this group dead-letters its copy.
		p := &prepared{rec: *rec}
		p.it = &item{in: &p.rec}
		s.deadLetter(p.it, &p.rec, "", "", ClassMalformed, &contracts.DecodeError{Attribute: "type", Err: contracts.ErrMissingAttribute}, 0)
		return p
	}
	p := &prepared{rec: *rec, route: route}
	rec = &p.rec
	typName, entries := route.typ, route.entries
	for _, m := range route.metrics {
		s.tel.add(s.tel.in, m.typeRiver)
	}
	decided := func() *prepared {
		if p.it == nil {
			p.it = &item{in: rec}
		}
		return p
	}
	env, err := contracts.Decoder{MaxEventBytes: s.cfg.MaxEventBytes}.DecodeBinary(rec.Message())
	if err != nil {
		s.deadLetterAll(decided().it, rec, entries, typName, ClassMalformed, err)
		return p
	}
	p.env = env
	ctx := rt.hard
	if now := s.clock.Now(); env.Expired(now) {
		for i, e := range entries {
			s.expTotal.Add(1)
			s.tel.add(s.tel.expired, route.metrics[i].typeRiver)
			if e.river.onExpired != nil {
				e.river.onExpired(ctx, cloneEnv(&env))
			}
		}
		s.log.Debug("expired event dropped", "type", typName, "id", env.ID, "expirytime", env.ExpiryTime)
		return decided()
	}
	if env.Hops > s.cfg.MaxHops {
		s.deadLetterAll(decided().it, rec, entries, typName, ClassLoop,
			fmt.Errorf("rivers: hop count %d is past the cut-off %d (MAX_HOPS): a loop through %v", env.Hops, s.cfg.MaxHops, env.Participants))
		return p
	}
	p.key = env.Source + "\x00" + env.ID
	seen, err := s.dedup.Seen(ctx, p.key)
	if err != nil {
		s.tel.dedupErrs.Add(context.Background(), 1)
		s.log.Warn("de-duplication store failed; processing the event", "error", err)
	} else if seen {
		for _, m := range route.metrics {
			s.tel.add(s.tel.dup, m.typeRiver)
		}
		s.log.Debug("duplicate event dropped", "type", typName, "id", env.ID, "source", env.Source)
		return decided()
	}
	if err := s.validator.Validate(env.Type, env.Data); err != nil && !errors.Is(err, ErrUnknownType) && !tolerable(err) {
		s.forget(p.key)
		s.deadLetterAll(decided().it, rec, entries, typName, ClassSchema, err)
		return p
	}
	p.data = newPayload(p.env.Data)
	p.data.lookup(nil) // split the top level here, off the handlers' goroutine
	return p
}

// handle is the second stage: each river's key rules and handler, in
// order. ok is false when the shutdown interrupted a handler.
func (s *Service) handle(rt *runtime, p *prepared) (*item, bool) {
	rec, env, route := &p.rec, &p.env, p.route
	it := &item{in: rec}
	pctx, span := s.tracing.startProcess(rt.hard, rec, env)
	defer span.End()
	failed := false
	for i, e := range route.entries {
		if problems := e.river.check(p.data); len(problems) > 0 {
			s.tel.add(s.tel.rejected, route.metrics[i].typeRiver)
			if e.river.onReject != nil {
				e.river.onReject(pctx, Rejection{River: e.river.Name(), Event: cloneEnv(env), Problems: problems})
			}
			continue
		}
		d := &delivery{
			Delivery: Delivery{Service: s.cfg.Name, River: e.river.Name(), Type: env.Type,
				Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Attempt: 1, RecordTime: rec.Time, Behind: rec.Behind()},
			eventID: env.ID, clock: s.clock, log: s.log, drain: rt.drain,
			out: &collector{s: s, cause: env}, metrics: route.metrics[i],
		}
		err := e.handler(withDelivery(pctx, d), newEvent(env, e.river, p.data), d.out)
		var interrupted *interruptedError
		switch {
		case err == nil || isRetired(err):
			s.processed.Add(1)
			it.out = append(it.out, d.out.out...)
		case errors.As(err, &interrupted) || rt.hard.Err() != nil:
			s.forget(p.key)
			return nil, false
		default:
			failed = true
			class := ClassRetriesExhausted
			switch {
			case errors.Is(err, ErrPanic):
				class = ClassPanic
			case IsPermanent(err):
				class = ClassPermanent
			}
			s.deadLetter(it, rec, route.typ, e.river.Name(), class, err, d.Attempt)
		}
	}
	if failed {
		s.forget(p.key)
	}
	return it, true
}

func (s *Service) forget(key string) {
	if err := s.dedup.Forget(context.Background(), key); err != nil {
		s.tel.dedupErrs.Add(context.Background(), 1)
		s.log.Warn("de-duplication store failed to forget a key", "error", err)
	}
}

// deadLetterAll dead-letters a record-level failure once, counting it for
// every river that wanted the record.
func (s *Service) deadLetterAll(it *item, rec *Record, entries []*riverEntry, typ, class string, cause error) {
	for _, e := range entries[1:] {
		s.countDead(typ, e.river.Name(), class)
	}
	s.deadLetter(it, rec, typ, entries[0].river.Name(), class, cause, 0)
}

// deadLetter adds the dead letter of rec to the item and counts it.
func (s *Service) deadLetter(it *item, rec *Record, typ, river, class string, cause error, attempts int) {
	recordRiver := river
	if class == ClassMalformed || class == ClassSchema || class == ClassLoop {
		recordRiver = "" // a record-level failure: not one river's
	}
	it.out = append(it.out, s.deadLetterRecord(rec, recordRiver, class, cause, attempts))
	s.countDead(typ, river, class)
	s.log.Warn("event dead-lettered", "class", class, "error", cause, "type", typ, "river", river,
		"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "attempts", attempts)
}

func (s *Service) countDead(typ, river, class string) {
	s.deadTotal.Add(1)
	s.tel.deadLettered(typ, river, class)
}
