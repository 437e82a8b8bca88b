package rivers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
)

// Service is one Watershed service: its rivers and handlers, timers,
// publications, heartbeats, retirement state, health and metrics. Build it
// with [NewService], register rivers, timers and checks, then [Service.Run]
// it (over Kafka) or [Service.Serve] it (over any [Transport]). A Service
// runs once; registration after it started panics.
type Service struct {
	cfg       Config
	source    string
	log       *slog.Logger
	validator Validator
	dedup     DedupStore
	tel       *telemetry
	tracing   *tracing
	mux       *chi.Mux
	retire    *retirement
	auth      *controlAuth
	clock     *clockRef // the clock of the running Serve (SystemClock before)

	mu        sync.Mutex
	started   bool
	rivers    []*riverEntry
	timers    []*timerEntry
	mws       []Middleware
	checks    []readinessCheck
	declared  map[string]struct{}
	partState *PartitionState
	observed  map[string]struct{}
	startedAt time.Time

	serving   atomic.Bool // between the start of Serve and the start of its shutdown
	rt        atomic.Pointer[runtime]
	processed atomic.Int64
	progress  progress
	ends      atomic.Pointer[endsSnapshot] // for AtEnd
	fetched   firstFetches                 // for AtEnd
	deadTotal atomic.Int64
	expTotal  atomic.Int64

	needOnce sync.Once
	needs    needCounters // need/solution counters (need.go), made on first use
}

type riverEntry struct {
	river    *River
	topic    string
	handler  Handler     // per-event rivers
	batch    batchRunner // batch rivers (HandleBatch)
	proven   bool        // a schema-valid payload passes the key rules (set by Serve)
	mws      []Middleware
	internal bool
}

type readinessCheck struct {
	name string
	fn   func(context.Context) error
}

// Option configures a Service beyond its Config.
type Option func(*serviceOptions)

type serviceOptions struct {
	log       *slog.Logger
	dedup     DedupStore
	validator Validator
	tp        trace.TracerProvider
}

// WithLogger sets the logger. Default: JSON (or text, LOG_FORMAT) on
// stderr at LOG_LEVEL, with the service's name, version and instance.
func WithLogger(l *slog.Logger) Option { return func(o *serviceOptions) { o.log = l } }

// WithDedupStore sets the de-duplication store. Default: a [MemoryDedup]
// of Config.DedupWindow and Config.DedupSize.
func WithDedupStore(d DedupStore) Option { return func(o *serviceOptions) { o.dedup = d } }

// WithValidator sets the schema validator. Default: the contracts catalog.
// Use [Validators](catalog.Default(), yours) to add schemas.
func WithValidator(v Validator) Option { return func(o *serviceOptions) { o.validator = v } }

// WithTracerProvider sets the OpenTelemetry tracer provider, instead of the
// one Config.TracesExporter builds.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *serviceOptions) { o.tp = tp }
}

// NewService returns a service for cfg (zero fields take their defaults),
// or an error naming every invalid setting.
func NewService(cfg Config, opts ...Option) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o serviceOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &Service{
		cfg:      cfg,
		source:   "/services/" + cfg.Name,
		declared: map[string]struct{}{},
		observed: map[string]struct{}{},
		clock:    newClockRef(SystemClock{}),
	}
	s.log = o.log
	if s.log == nil {
		s.log = newLogger(cfg, os.Stderr)
	}
	s.validator = o.validator
	if s.validator == nil {
		s.validator = Validators(catalog.Default())
	}
	var err error
	if s.tel, err = newTelemetry(cfg.Name, cfg.Version, cfg.Instance); err != nil {
		return nil, err
	}
	if s.tracing, err = newTracing(context.Background(), cfg, o.tp); err != nil {
		return nil, err
	}
	s.dedup = o.dedup
	if s.dedup == nil {
		s.dedup = NewMemoryDedup(cfg.DedupWindow, cfg.DedupSize, func() time.Time { return s.clock.Now() })
	}
	s.retire = newRetirement()
	s.auth = newControlAuth(cfg, s.validator)
	s.handleRetirements()
	s.mux = s.routes()
	return s, nil
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(cfg.LogLevel)
	hopts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(w, hopts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, hopts)
	}
	return slog.New(h).With("service", cfg.Name, "version", cfg.Version, "instance", cfg.Instance)
}

// Config returns the service's configuration, defaults applied.
func (s *Service) Config() Config { return s.cfg }

// Logger returns the service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// Meter returns an OpenTelemetry meter whose instruments appear on the
// service's /metrics next to the SDK's.
func (s *Service) Meter() metric.Meter {
	return s.tel.provider.Meter("github.com/watershed-grid/watershed/services/" + s.cfg.Name)
}

// Handle registers h for the events of river r, wrapped in mws (the first
// outermost) inside the service's middleware ([Service.Use]). It panics when
// r is invalid, its name is taken, or the service has started: those are
// programming errors, found by the first test.
func (s *Service) Handle(r *River, h Handler, mws ...Middleware) {
	if err := s.register(r, h, mws, false); err != nil {
		panic(err)
	}
}

func (s *Service) register(r *River, h Handler, mws []Middleware, internal bool) error {
	if r == nil || h == nil {
		return fmt.Errorf("rivers: Handle: nil river or handler")
	}
	return s.registerEntry(&riverEntry{river: r, handler: h, mws: mws, internal: internal})
}

func (s *Service) registerEntry(e *riverEntry) error {
	r := e.river
	if err := r.err(); err != nil {
		return fmt.Errorf("rivers: Handle: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("rivers: Handle %q: the service has started", r.Name())
	}
	for _, x := range s.rivers {
		if x.river.Name() == r.Name() {
			return fmt.Errorf("rivers: Handle: a river named %q exists: give one a name with Named", r.Name())
		}
	}
	e.topic = s.cfg.topic(r.topic)
	s.rivers = append(s.rivers, e)
	return nil
}

// Use adds middleware around every handler and timer, inside the SDK's
// metrics and tracing and outside retries, timeouts and panic recovery.
// The first is the outermost. It panics once the service has started.
func (s *Service) Use(mws ...Middleware) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("rivers: Use: the service has started")
	}
	s.mws = append(s.mws, mws...)
}

// Publishes declares event types the service publishes. Heartbeats list
// them (with the types it has actually published), so the ecosystem knows
// who produces what before the first event.
func (s *Service) Publishes(types ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range types {
		s.declared[t] = struct{}{}
	}
}

// CheckReady registers a readiness check: /readyz and heartbeats report
// not ready while fn returns an error (a database unreachable, a cache
// cold). fn gets a context with a short deadline.
func (s *Service) CheckReady(name string, fn func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, readinessCheck{name: name, fn: fn})
}

// HandleHTTP mounts h at pattern on the service's HTTP server, next to
// /healthz, /readyz and /metrics.
func (s *Service) HandleHTTP(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HTTPHandler returns the service's HTTP handler: /healthz, /readyz,
// /metrics and what HandleHTTP mounted. Run serves it on Config.HTTPAddr.
func (s *Service) HTTPHandler() http.Handler { return s.mux }

// Publish publishes an origin event (no cause) and returns once the broker
// has acknowledged it, or with an error (see [Publisher] for validation and
// retirement). It is safe for concurrent use — concurrent calls share
// batches — and works only while the service runs. Handlers and timers use
// the Publisher they are given instead.
func (s *Service) Publish(ctx context.Context, typ string, data any, opts ...PublishOption) error {
	rt := s.runtimeRef()
	if rt == nil {
		return fmt.Errorf("rivers: publish %s: %w", typ, ErrStopped)
	}
	rec, err := s.build(ctx, nil, typ, data, opts)
	if err != nil {
		return err
	}
	return rt.send.publish(ctx, []Record{rec})
}

func (s *Service) observePublished(typ string) {
	s.mu.Lock()
	if _, ok := s.observed[typ]; !ok {
		s.observed[typ] = struct{}{}
	}
	s.mu.Unlock()
}

// publishesList is what heartbeats say the service publishes: declared and
// observed types, less the retired and the SDK's own lifecycle events.
func (s *Service) publishesList(now time.Time) []string {
	s.mu.Lock()
	set := map[string]struct{}{}
	for t := range s.declared {
		set[t] = struct{}{}
	}
	for t := range s.observed {
		if t == typeHeartbeat || t == typeStarted || t == typeStopping {
			if _, ok := s.declared[t]; !ok {
				continue
			}
		}
		set[t] = struct{}{}
	}
	s.mu.Unlock()
	out := sortedTypes(set)
	return slices.DeleteFunc(out, func(t string) bool { return s.retire.isRetired(t, now) })
}

// clone of an envelope for hooks, which may keep it.
func cloneEnv(e *contracts.Event) contracts.Event { return e.Clone() }

// Progress returns, for each partition of topic the service has read since
// it started, the offset after the last record it is done with: handled
// (or dropped, or dead-lettered), its publications acknowledged and its
// offset handed to the consumer group's commit. Tests and benchmarks wait on it ("every record
// published so far is done") instead of sleeping.
func (s *Service) Progress(topic string) map[int]int64 { return s.progress.of(topic) }

// AtEnd reports whether the service has read partition of topic to its end
// as of a check of the broker's end offsets at most a few seconds old:
// every record the partition held then is handled (as Progress counts
// them), and the check before it found the same end (nothing was appended
// in between, so the answer is not already stale). False when no recent check knows the partition, and on transports
// that cannot tell. Event-time code asks it before it takes a quiet
// partition for idle: a partition whose records the service has not read
// yet (a stalled reader) is never idle.
func (s *Service) AtEnd(topic string, partition int) bool {
	n, ok := s.Unread(topic, partition)
	if !ok || n != 0 {
		return false
	}
	// An end check is a moment: records appended after it are not in it.
	// A partition whose end moved between the last two checks is being
	// written to, so the newest answer may already be stale; it is at its
	// end only once two checks in a row agree (quiet for a check interval).
	snap := s.ends.Load()
	if snap.prev == nil {
		return false
	}
	tp := TopicPartition{topic, partition}
	before, ok := snap.prev[tp]
	if !ok || before != snap.ends[tp] {
		return false
	}
	// Checks made before the first record of the topic arrived say only
	// that nothing was written yet: when publishing starts, every partition
	// gets records at once, and a reader that fetched some partitions
	// first must not take the others for empty (the proof of issue #12,
	// feeder windows at the start of a run under load).
	first, ok := s.fetched.at(topic)
	return ok && snap.prevAt.After(first)
}

// firstFetches keeps, per topic, when the service fetched its first record.
type firstFetches struct {
	all atomic.Bool // every subscribed topic has one: nothing more to note
	mu  sync.Mutex
	by  map[string]time.Time
}

// note records the first fetch of topic at now; topics is how many the
// service reads.
func (f *firstFetches) note(topic string, now time.Time, topics int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by = map[string]time.Time{}
	}
	if _, ok := f.by[topic]; !ok {
		f.by[topic] = now
	}
	if len(f.by) >= topics {
		f.all.Store(true)
	}
}

func (f *firstFetches) at(topic string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.by[topic]
	return t, ok
}

// Unread returns how many records of partition of topic the service has
// not done yet (as Progress counts them) out of those the broker held at a
// check of its end offsets at most a few seconds old, and whether such a
// check knows the partition (false on transports that cannot tell).
// Monitors use it to tell a partition read to its end from one whose new
// records they have not fetched yet.
func (s *Service) Unread(topic string, partition int) (int64, bool) {
	snap := s.ends.Load()
	if snap == nil || time.Since(snap.at) > 3*endCheckEvery {
		return 0, false
	}
	end, ok := snap.ends[TopicPartition{topic, partition}]
	if !ok {
		return 0, false
	}
	s.progress.mu.Lock()
	next := s.progress.next[partitionOf{topic, partition}]
	s.progress.mu.Unlock()
	return max(end-next, 0), true
}

// EndsChecked reports whether the service has had an answer to a check of
// its topics' end offsets: the transport can tell (Unread's second result
// false then means the last answer is too old).
func (s *Service) EndsChecked() bool { return s.ends.Load() != nil }

// Assigned returns the partitions of topic the consumer group has given this
// instance now, in order, and whether the transport can tell (false before
// the service subscribed, and on transports that cannot). Before the group
// has given it any (it is still joining, or the group has more members
// than partitions) the list is empty and known. Event-time code holds its
// watermark for an assigned partition it has not read yet, and lets go of
// partitions a rebalance took away.
func (s *Service) Assigned(topic string) ([]int, bool) {
	rt := s.rt.Load()
	if rt == nil || rt.sub == nil {
		return nil, false
	}
	a, ok := rt.sub.(AssignmentReporter)
	if !ok {
		return nil, false
	}
	out := []int{}
	for tp := range a.Assignment() {
		if tp.Topic == topic {
			out = append(out, tp.Partition)
		}
	}
	slices.Sort(out)
	return out, true
}

// endCheckEvery is how often Serve asks the broker for end offsets.
const endCheckEvery = time.Second

// endsSnapshot is one answer of the broker about end offsets.
type endsSnapshot struct {
	at     time.Time
	ends   map[TopicPartition]int64
	prev   map[TopicPartition]int64 // the answer before, nil for the first
	prevAt time.Time                // when that one was asked
}

// watchEnds refreshes the end offsets every endCheckEvery until ctx ends.
func (s *Service) watchEnds(ctx context.Context, eo EndOffsetReporter) {
	t := time.NewTicker(endCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 2*endCheckEvery)
		ends, err := eo.EndOffsets(cctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Debug("end offsets unknown", "error", err)
			}
			continue
		}
		if a, ok := eo.(AssignmentReporter); ok {
			// Records before a partition's start offset were handled by
			// an earlier member: a partition not read since it was
			// assigned is at its end when nothing came after them.
			s.progress.started(a.Assignment())
		}
		var prev map[TopicPartition]int64
		var prevAt time.Time
		if old := s.ends.Load(); old != nil && at.Sub(old.at) <= 3*endCheckEvery {
			prev, prevAt = old.ends, old.at
		}
		s.ends.Store(&endsSnapshot{at: at, ends: ends, prev: prev, prevAt: prevAt})
	}
}

// progress is what Progress reports, advanced by the sender.
type progress struct {
	mu   sync.Mutex
	next map[partitionOf]int64
}

type partitionOf struct {
	topic     string
	partition int
}

func (p *progress) advance(recs []Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == nil {
		p.next = map[partitionOf]int64{}
	}
	for i := range recs {
		k := partitionOf{recs[i].Topic, recs[i].Partition}
		if o := recs[i].Offset + 1; o > p.next[k] {
			p.next[k] = o
		}
	}
}

// started records where assigned partitions start: what lies before is
// handled.
func (p *progress) started(assigned map[TopicPartition]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == nil {
		p.next = map[partitionOf]int64{}
	}
	for tp, o := range assigned {
		if k := (partitionOf{tp.Topic, tp.Partition}); o > p.next[k] {
			p.next[k] = o
		}
	}
}

func (p *progress) of(topic string) map[int]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int]int64{}
	for k, o := range p.next {
		if k.topic == topic {
			out[k.partition] = o
		}
	}
	return out
}
