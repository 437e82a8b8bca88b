package rivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

// BatchHandler processes a batch of events of one river: records of one
// partition, in offset order, each payload decoded once into a T. It is
// for high-volume rivers (the rapids), where a call per event costs more
// than the work: the SDK's per-event work (metrics, tracing, timeout,
// panic recovery) is paid once per batch, and the handler can take its
// locks once.
//
// Return nil when every event is done; a [*BatchError] to say which event
// failed (the events before it are done, their publications kept; the
// failed one is retried or dead-lettered like a per-event handler's, and
// the batch goes on after it; a BatchError of [ErrRetired] counts the event
// as done); any other error, or a panic, when it is not
// known which event failed: the SDK then calls the handler again with one
// event at a time, so a bad event is dead-lettered alone. Handlers must
// therefore be safe to call again on the events of a failed call.
type BatchHandler[T any] func(ctx context.Context, b *Batch[T]) error

// Batch is the events given to one call of a [BatchHandler]. It is valid
// during the call only.
type Batch[T any] struct {
	run    *batchCallState[T]
	lo, hi int
}

// Len returns the number of events.
func (b *Batch[T]) Len() int { return b.hi - b.lo }

// Value returns event i's payload, decoded into a T.
func (b *Batch[T]) Value(i int) *T { return &b.run.values[b.lo+i] }

// Event returns event i: its attributes and the keys its river declares.
func (b *Batch[T]) Event(i int) Event {
	p := b.run.recs[b.lo+i]
	return newEvent(&p.env, b.run.river, p.payload())
}

// Publisher returns the Publisher of events derived from event i: they
// name it as their cause and are sent only if event i is done (the call
// returns nil, or a [*BatchError] for a later event).
func (b *Batch[T]) Publisher(i int) Publisher { return &b.run.pubs[b.lo+i] }

// Delivery describes event i's record: partition, offset, record time and
// how far behind the end of its partition it was fetched.
func (b *Batch[T]) Delivery(i int) Delivery {
	p := b.run.recs[b.lo+i]
	return Delivery{Service: b.run.service, River: b.run.river.Name(), Type: p.env.Type,
		Topic: p.rec.Topic, Partition: p.rec.Partition, Offset: p.rec.Offset, Attempt: b.run.attempt,
		RecordTime: p.rec.Time, Behind: p.rec.Behind(), Replay: p.replay}
}

// BatchError is what a [BatchHandler] returns to say that event Index of
// the batch failed with Err: the events before it are done.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("event %d of the batch: %v", e.Index, e.Err) }

func (e *BatchError) Unwrap() error { return e.Err }

// HandleBatch registers h for the events of river r, delivered in batches
// of up to Config.MaxBatch records of one partition. Each payload is decoded
// once into a T, a struct whose fields must all be keys the river declares
// (as for [Event.Decode]): events.MeterReading by the catalog's one-pass
// decoder, a *T that implements json.Unmarshaler by itself, struct{} not at
// all (a handler of attributes only), anything else by encoding/json. A payload that does
// not decode is dead-lettered alone. The service's middleware ([Service.Use])
// wraps per-event handlers only. It panics on the programming errors
// [Service.Handle] panics on, and when T has undeclared fields.
func HandleBatch[T any](s *Service, r *River, h BatchHandler[T]) {
	if r == nil || h == nil {
		panic("rivers: HandleBatch: nil river or handler")
	}
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("rivers: HandleBatch: %s is not a struct", t))
	}
	var undeclared []string
	for _, name := range jsonFieldNames(t) {
		if !r.allowsFold(name) {
			undeclared = append(undeclared, name)
		}
	}
	if len(undeclared) > 0 {
		panic(fmt.Sprintf("rivers: HandleBatch: river %q: %s has fields the river does not declare: %s (declare them with Require or Interested)",
			r.Name(), t, strings.Join(undeclared, ", ")))
	}
	br := &batchRiver[T]{h: h, decode: decodePayload[T]}
	if d, ok := any(catalog.DecodeMeterReading).(func([]byte, *T) error); ok {
		br.decode = d // readings: validated and decoded in one pass, no reflection
	}
	if t.NumField() == 0 {
		br.decode = func([]byte, *T) error { return nil } // envelope only: nothing to decode
	}
	if err := s.registerEntry(&riverEntry{river: r, batch: br}); err != nil {
		panic(err)
	}
}

// batchRunner is a batch river's handler with its payload type erased.
type batchRunner interface {
	// open decodes the records' payloads; fail is called for each that
	// does not decode, and the call holds the others.
	open(s *Service, river *River, recs []*prepared, fail func(i int, err error)) batchCall
}

// batchCall is one batch river's records of one run, decoded.
type batchCall interface {
	size() int
	origin(i int) int // index in the run of the call's record i
	setAttempt(n int)
	call(ctx context.Context, lo, hi int) error
	take(i int) []Record // record i's publications; they are cleared
	reset(i int)         // discard record i's publications
}

type batchRiver[T any] struct {
	h      BatchHandler[T]
	decode func([]byte, *T) error
}

type batchCallState[T any] struct {
	h       BatchHandler[T]
	service string
	river   *River
	recs    []*prepared
	orig    []int
	values  []T
	pubs    []collector
	attempt int
}

func (br *batchRiver[T]) open(s *Service, river *River, recs []*prepared, fail func(int, error)) batchCall {
	c := &batchCallState[T]{h: br.h, service: s.cfg.Name, river: river,
		recs: make([]*prepared, 0, len(recs)), orig: make([]int, 0, len(recs)), values: make([]T, len(recs))}
	for i, p := range recs {
		v := &c.values[len(c.recs)]
		if err := br.decode(p.env.Data, v); err != nil {
			*v = *new(T)
			fail(i, &KeyError{River: river.Name(), Reason: fmt.Sprintf("payload does not decode into %T: %v", *v, err), Err: ErrKeyType})
			continue
		}
		c.recs = append(c.recs, p)
		c.orig = append(c.orig, i)
	}
	c.values = c.values[:len(c.recs)]
	c.pubs = make([]collector, len(c.recs))
	for i, p := range c.recs {
		c.pubs[i] = collector{s: s, cause: &p.env}
	}
	return c
}

func decodePayload[T any](data []byte, v *T) error {
	if u, ok := any(v).(json.Unmarshaler); ok {
		return u.UnmarshalJSON(data)
	}
	return json.Unmarshal(data, v)
}

func (c *batchCallState[T]) size() int        { return len(c.recs) }
func (c *batchCallState[T]) origin(i int) int { return c.orig[i] }
func (c *batchCallState[T]) setAttempt(n int) { c.attempt = n }
func (c *batchCallState[T]) reset(i int)      { c.pubs[i].out = c.pubs[i].out[:0] }

func (c *batchCallState[T]) take(i int) []Record {
	out := c.pubs[i].out
	c.pubs[i].out = nil
	return out
}

func (c *batchCallState[T]) call(ctx context.Context, lo, hi int) error {
	return c.h(ctx, &Batch[T]{run: c, lo: lo, hi: hi})
}

// batchRun is the records of one chunk for one batch river and partition.
// Markers split chunks (handleSegments), so a run is all replayed records
// or none: the call's Delivery.Replay holds for each of them.
type batchRun struct {
	entry *riverEntry
	recs  []*prepared
	its   []*item
}

// addToBatch adds a record to the open run of its river and partition, or
// opens one.
func (s *Service) addToBatch(runs []*batchRun, e *riverEntry, p *prepared, it *item) []*batchRun {
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.entry == e && r.recs[0].rec.Partition == p.rec.Partition && r.recs[0].rec.Topic == p.rec.Topic {
			if len(r.recs) < s.cfg.MaxBatch {
				r.recs = append(r.recs, p)
				r.its = append(r.its, it)
				return runs
			}
			break // full: a new run follows it
		}
	}
	return append(runs, &batchRun{entry: e, recs: []*prepared{p}, its: []*item{it}})
}

// runBatch calls a batch river's handler on one run, with the per-event
// semantics of retries and dead letters (see [BatchHandler]). It returns
// false when the shutdown interrupted it.
func (s *Service) runBatch(rt *runtime, b *batchRun) bool {
	e := b.entry
	fail := func(i int, class string, err error, attempts int) {
		p := b.recs[i]
		s.deadLetter(b.its[i], &p.rec, p.route.typ, e.river.Name(), class, err, attempts)
		if p.key != "" {
			s.forgetIn(p.store(s), p.key)
			p.key = ""
		}
	}
	c := e.batch.open(s, e.river, b.recs, func(i int, err error) { fail(i, ClassPermanent, err, 0) })
	n := c.size()
	keep := func(i int) {
		it := b.its[c.origin(i)]
		it.out = append(it.out, c.take(i)...)
		it.handled = true
		s.processed.Add(1)
	}
	lo, attempt, single := 0, 1, false
	for lo < n {
		hi := n
		if single {
			hi = lo + 1
		}
		c.setAttempt(attempt)
		err := s.callBatch(rt, e, c, b.recs[c.origin(lo)], lo, hi, attempt)
		if err == nil {
			for i := lo; i < hi; i++ {
				keep(i)
			}
			lo, attempt = hi, 1
			continue
		}
		var interrupted *interruptedError
		if errors.As(err, &interrupted) || rt.hard.Err() != nil {
			return false
		}
		at := -1
		var be *BatchError
		if errors.As(err, &be) && be.Index >= 0 && be.Index < hi-lo {
			at = lo + be.Index
			if be.Err != nil {
				err = be.Err
			}
		}
		if at >= 0 && isRetired(err) { // a retired type is withheld, not a failure
			for i := lo; i <= at; i++ {
				keep(i)
			}
			lo, attempt = at+1, 1
			continue
		}
		for i := lo; i < hi; i++ {
			if i < at {
				keep(i)
			} else {
				c.reset(i)
			}
		}
		if at < 0 {
			if hi-lo > 1 { // which event failed is unknown: find it one by one
				single = true
				continue
			}
			at = lo
		}
		if at > lo {
			lo, attempt = at, 1
		}
		class := classOf(err)
		if class == ClassRetriesExhausted && attempt < s.cfg.Retry.Attempts {
			s.log.Warn("batch handler failed, retrying", "river", e.river.Name(), "attempt", attempt, "error", err,
				"partition", b.recs[c.origin(lo)].rec.Partition, "offset", b.recs[c.origin(lo)].rec.Offset)
			if s.clock.Sleep(rt.drain, s.cfg.Retry.wait(attempt)) != nil {
				return false // the service is stopping: delivered again
			}
			attempt++
			continue
		}
		if class == ClassRetriesExhausted {
			err = fmt.Errorf("rivers: gave up after %d attempts: %w", attempt, err)
		}
		fail(c.origin(lo), class, err, attempt)
		lo, attempt = lo+1, 1
	}
	return true
}

// callBatch makes one call of a batch handler on records [lo, hi) of c:
// its delivery, span, timeout, panic recovery and metrics.
func (s *Service) callBatch(rt *runtime, e *riverEntry, c batchCall, first *prepared, lo, hi, attempt int) (err error) {
	d := &delivery{
		Delivery: Delivery{Service: s.cfg.Name, River: e.river.Name(), Type: first.env.Type,
			Topic: first.rec.Topic, Partition: first.rec.Partition, Offset: first.rec.Offset, Attempt: attempt,
			RecordTime: first.rec.Time, Behind: first.rec.Behind(), Replay: first.replay},
		eventID: first.env.ID, clock: s.clock, log: s.log, drain: rt.drain,
	}
	ctx := withDelivery(rt.hard, d)
	var span trace.Span
	if s.tracing.recording {
		ctx, span = s.tracing.tracer.Start(ctx, "process "+first.rec.Topic,
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.system", "kafka"),
				attribute.Int("messaging.batch.message_count", hi-lo),
				attribute.String("messaging.destination.partition.id", fmt.Sprint(first.rec.Partition)),
				attribute.String("watershed.river", e.river.Name())))
		defer span.End()
	}
	if t := s.cfg.HandlerTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
		if isRetired(err) {
			err = nil
		}
		if err != nil && rt.hard.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("rivers: batch handler timed out after %s: %w", s.cfg.HandlerTimeout, err)
		}
		s.tel.observeHandler(e.river.Name(), "", first.route.typ, err, time.Since(start))
		if err != nil && span != nil && span.IsRecording() {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}()
	return c.call(ctx, lo, hi)
}
