package rivers

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// Consumption runs in two kinds of goroutines. One fetches records and
// matches their type on the ce_type header alone (no decoding); it hands
// each record to the worker that owns its partition (partition modulo
// Config.Concurrency), so a partition's records are handled in offset
// order. Each worker takes whatever has queued up since its last turn as
// one chunk: it checks and decodes the chunk's records, runs per-event
// handlers record by record and batch handlers once per run of records,
// and hands the results to the sender in order. Under load chunks grow and
// every per-chunk cost (wake-ups, batch handler calls, the sender's queue)
// is amortised; when idle a chunk is a single record and nothing waits.

// workerQueueCap bounds the records fetched ahead of one worker (the
// transport buffers more: kafka-go queues 1000 per consumer).
const workerQueueCap = 512

// handoff carries fetched records from the fetching goroutine to one
// worker: a mutex-guarded queue the worker takes whole.
type handoff struct {
	mu     sync.Mutex
	items  []prepared
	max    int
	closed bool
	ready  chan struct{} // signalled when items become non-empty, or on close
	space  chan struct{} // signalled when items are taken
}

func newHandoff(max int) *handoff {
	return &handoff{max: max, ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// put queues the record, waiting while the queue is full; false once ctx
// is done or the handoff closed.
func (h *handoff) put(ctx context.Context, rec *Record, route *typeRoute, typed bool) bool {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return false
		}
		if len(h.items) < h.max {
			h.items = append(h.items, prepared{rec: *rec, route: route, typed: typed})
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

// putMarker queues a marker for partition of topic.
func (h *handoff) putMarker(ctx context.Context, mark uint8, topic string, partition int) bool {
	return h.putPrepared(ctx, prepared{rec: Record{Topic: topic, Partition: partition}, mark: mark})
}

// putReplay queues a record of a partition's history.
func (h *handoff) putReplay(ctx context.Context, rec *Record, route *typeRoute, typed bool, st DedupStore) bool {
	return h.putPrepared(ctx, prepared{rec: *rec, route: route, typed: typed, replay: true, dedup: st})
}

// putPrepared is put for an item made by the caller.
func (h *handoff) putPrepared(ctx context.Context, p prepared) bool {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return false
		}
		if len(h.items) < h.max {
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

// take returns every queued record, waiting for one; false once ctx is
// done or the handoff is closed and empty. The chunk is the caller's: the
// queue starts a new one.
func (h *handoff) take(ctx context.Context) ([]prepared, bool) {
	for {
		h.mu.Lock()
		if n := len(h.items); n > 0 {
			chunk := h.items
			h.items = make([]prepared, 0, n) // sized like the last chunk; append grows it
			h.mu.Unlock()
			notify(h.space)
			return chunk, true
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

// consume runs the fetching goroutine and the workers until the service
// drains. Records fetched but not handled when it drains are not
// committed: they are delivered again.
func (s *Service) consume(rt *runtime) {
	ctx, cancel := context.WithCancel(rt.drain)
	defer cancel()
	n := max(s.cfg.Concurrency, 1)
	queues := make([]*handoff, n)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = newHandoff(workerQueueCap)
		wg.Add(1)
		go func(h *handoff) {
			defer wg.Done()
			defer cancel() // a worker that stops (shutdown) stops the others
			s.work(rt, ctx, h)
		}(queues[i])
	}
	s.fetchLoop(rt, ctx, queues)
	for _, q := range queues {
		q.close()
	}
	wg.Wait()
}

// fetchLoop fetches records and queues each for the worker of its
// partition until ctx ends.
func (s *Service) fetchLoop(rt *runtime, ctx context.Context, queues []*handoff) {
	wait := 100 * time.Millisecond
	parts := rt.parts
	fctx, cancelFetch := ctx, context.CancelFunc(func() {})
	if parts != nil {
		fctx, cancelFetch = parts.fetchContext(ctx)
	}
	defer func() { cancelFetch() }()
	for {
		if parts != nil && parts.dirty.Load() {
			if !s.rebalance(rt, ctx, queues) {
				return
			}
		}
		rec, err := rt.sub.Fetch(fctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if parts != nil && fctx.Err() != nil { // a rebalance signal
				cancelFetch()
				fctx, cancelFetch = parts.fetchContext(ctx)
				continue
			}
			s.log.Warn("fetch failed, retrying", "error", err, "wait", wait)
			if (SystemClock{}).Sleep(ctx, wait) != nil {
				return
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
		if !s.fetched.all.Load() {
			s.fetched.note(rec.Topic, time.Now(), len(rt.index))
		}
		typ, hasType := contracts.HeaderValue(rec.Headers, contracts.HeaderType)
		route := s.match(rt, &rec, typ)
		typed := hasType && len(typ) > 0
		if route == nil && typed {
			s.tel.skipped.Add(1)
		}
		q := queues[0]
		if len(queues) > 1 {
			q = queues[rec.Partition%len(queues)]
		}
		if parts != nil && parts.keeps(rec.Topic) {
			st, ok := s.admit(rt, ctx, &rec, queues)
			if !ok || !q.putPrepared(ctx, prepared{rec: rec, route: route, typed: typed, dedup: st}) {
				return
			}
			continue
		}
		if !q.put(ctx, &rec, route, typed) {
			return
		}
	}
}

// work handles the chunks of one worker's queue until it closes or the
// shutdown interrupts a handler.
func (s *Service) work(rt *runtime, ctx context.Context, h *handoff) {
	for {
		chunk, ok := h.take(ctx)
		if !ok || rt.drain.Err() != nil {
			return
		}
		if !s.handleChunk(rt, chunk) {
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
	if r, ok := ti.cache[string(typ)]; ok {
		return r
	}
	var extra []*riverEntry
	for _, e := range ti.prefix {
		if e.river.matchType(string(typ)) && (route == nil || !slices.Contains(route.entries, e)) {
			extra = append(extra, e)
		}
	}
	r := route
	if len(extra) > 0 {
		r = &typeRoute{typ: typeLabel(typ)}
		if route != nil {
			r.entries = slices.Clone(route.entries)
			r.metrics = slices.Clone(route.metrics)
		}
		for _, e := range extra {
			r.entries = append(r.entries, e)
			r.metrics = append(r.metrics, s.tel.riverMetrics(r.typ, e.river.Name()))
		}
	}
	// Only the fetching goroutine matches, so the cache needs no lock. Types
	// that look like types are few; garbage is not cached.
	if typeLabel(typ) != "invalid" && len(ti.cache) < maxCachedRoutes {
		if ti.cache == nil {
			ti.cache = map[string]*typeRoute{}
		}
		ti.cache[string(typ)] = r
	}
	return r
}

// maxCachedRoutes bounds the routes of pattern rivers cached per topic.
const maxCachedRoutes = 1024

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
