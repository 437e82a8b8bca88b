package rivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/watershed-grid/watershed/contracts"
)

// prepared is one fetched record on its way through a worker.
type prepared struct {
	rec   Record
	route *typeRoute // nil: no river wants it (committed only)
	typed bool       // it has a ce_type header
	env   contracts.Event
	data  *payload // see payload()
	key   string   // de-duplication key, once recorded in the store
	valid bool     // its payload passed its type's schema (not merely tolerated)
	// Partition state (see PartitionState): replay marks a record of a
	// partition's history, rebuilt, not published nor committed; mark a
	// marker, not a record; dedup the partition's de-dup store.
	replay bool
	mark   uint8
	dedup  DedupStore
}

// store returns the record's de-dup store.
func (p *prepared) store(s *Service) DedupStore {
	if p.dedup != nil {
		return p.dedup
	}
	return s.dedup
}

// payload returns the record's payload for key lookups, made on first use:
// batch rivers whose rules the schema proves never need it.
func (p *prepared) payload() *payload {
	if p.data == nil {
		p.data = newPayload(p.env.Data)
	}
	return p.data
}

// handleChunk runs one worker's chunk through the pipeline and hands the
// results to the sender in record order: first the record-level checks,
// then the per-event handlers record by record, then the batch handlers
// once per run of records of one partition. It returns false when the
// shutdown interrupted a handler; nothing of the chunk is then committed
// (it is delivered again) and its de-duplication keys are forgotten. When
// the service starts to stop, the records not yet begun are left for the
// next owner of their partitions.
func (s *Service) handleChunk(rt *runtime, chunk []prepared) bool {
	if rt.parts != nil {
		return s.handleSegments(rt, chunk)
	}
	items, ok := s.processChunk(rt, chunk)
	return ok && rt.send.enqueueChunk(items) == nil
}

// processChunk is handleChunk without the sender: the items to send and
// commit, one per record.
func (s *Service) processChunk(rt *runtime, chunk []prepared) ([]item, bool) {
	items := make([]item, len(chunk))
	var batches []*batchRun
	for i := range chunk {
		if rt.drain.Err() != nil { // stopping: finish what is in hand, leave the rest
			chunk, items = chunk[:i], items[:i]
			break
		}
		p, it := &chunk[i], &items[i]
		it.in = &p.rec
		if p.route == nil {
			if !p.typed { // no ce_type at all: malformed for every service reading the topic
				s.deadLetter(it, &p.rec, "", "", ClassMalformed, &contracts.DecodeError{Attribute: "type", Err: contracts.ErrMissingAttribute}, 0)
			}
			continue
		}
		if !s.prepare(rt, p, it) {
			continue
		}
		if !s.handleRecord(rt, p, it) {
			s.forgetChunk(chunk)
			return nil, false
		}
		for k, e := range p.route.entries {
			if e.batch != nil && s.passes(rt.hard, e, p.route.metrics[k], p) {
				batches = s.addToBatch(batches, e, p, it)
			}
		}
	}
	for _, b := range batches {
		if !s.runBatch(rt, b) {
			s.forgetChunk(chunk)
			return nil, false
		}
	}
	return items, true
}

func (s *Service) forgetChunk(chunk []prepared) {
	for i := range chunk {
		if chunk[i].key != "" {
			s.forgetIn(chunk[i].store(s), chunk[i].key)
		}
	}
}

// prepare runs the record-level checks: decoding, use-by, the loop
// cut-off, de-duplication and the schema. It reports whether the record's
// handlers run; otherwise the outcome (a dead letter, or a drop) is on it.
func (s *Service) prepare(rt *runtime, p *prepared, it *item) bool {
	rec, route := &p.rec, p.route
	typName, entries := route.typ, route.entries
	for _, m := range route.metrics {
		s.tel.add(s.tel.in, m.typeRiver)
	}
	// The validator parses the payload anyway: decoding skips its own JSON
	// check, and a payload the validator refuses is told apart below.
	env, err := contracts.Decoder{MaxEventBytes: s.cfg.MaxEventBytes, DataChecked: true}.DecodeBinary(rec.Message())
	if err != nil {
		s.deadLetterAll(it, rec, entries, typName, ClassMalformed, err)
		return false
	}
	p.env = env
	ctx := rt.hard
	if now := s.clock.Now(); env.Expired(now) {
		for i, e := range entries {
			s.expTotal.Add(1)
			s.tel.add(s.tel.expired, route.metrics[i].typeRiver)
			if e.river.onExpired != nil {
				e.river.onExpired(ctx, cloneEnv(&p.env))
			}
		}
		s.log.Debug("expired event dropped", "type", typName, "id", env.ID, "expirytime", env.ExpiryTime)
		return false
	}
	if env.Hops > s.cfg.MaxHops {
		s.deadLetterAll(it, rec, entries, typName, ClassLoop,
			fmt.Errorf("rivers: hop count %d is past the cut-off %d (MAX_HOPS): a loop through %v", env.Hops, s.cfg.MaxHops, env.Participants))
		return false
	}
	if s.auth.enforces(env.Type) {
		if err := s.auth.verify(rec, env.Type); err != nil {
			s.log.Warn("control event refused", "type", env.Type, "id", env.ID, "source", env.Source, "error", err)
			s.deadLetterAll(it, rec, entries, typName, ClassUnauthorised, err)
			return false
		}
	}
	key := env.Source + "\x00" + env.ID
	seen, err := p.store(s).Seen(ctx, key)
	if err != nil {
		s.tel.dedupErrs.Add(context.Background(), 1)
		s.log.Warn("de-duplication store failed; processing the event", "error", err)
	} else if seen {
		for _, m := range route.metrics {
			s.tel.add(s.tel.dup, m.typeRiver)
		}
		s.log.Debug("duplicate event dropped", "type", typName, "id", env.ID, "source", env.Source)
		return false
	}
	p.key = key
	if !route.readsPayload() {
		return true // no river reads the payload: nothing to check it for
	}
	err = s.validator.Validate(env.Type, env.Data)
	refused := err != nil && !tolerable(err) // unknown types included
	if refused && !json.Valid(env.Data) {    // not even JSON
		s.forgetIn(p.store(s), key)
		p.key = ""
		s.deadLetterAll(it, rec, entries, typName, ClassMalformed, contracts.InvalidData())
		return false
	}
	if refused && !errors.Is(err, ErrUnknownType) {
		s.forgetIn(p.store(s), key)
		p.key = ""
		s.deadLetterAll(it, rec, entries, typName, ClassSchema, err)
		return false
	}
	p.valid = err == nil
	return true
}

// handleRecord runs the record's per-event rivers in order: key rules,
// then the handler through its middleware. Batch rivers are left to
// runBatch. It returns false when the shutdown interrupted a handler.
func (s *Service) handleRecord(rt *runtime, p *prepared, it *item) bool {
	rec, env, route := &p.rec, &p.env, p.route
	var pctx context.Context
	failed := false
	for i, e := range route.entries {
		if e.batch != nil {
			continue
		}
		if pctx == nil {
			var span trace.Span
			pctx, span = s.tracing.startProcess(rt.hard, rec, env)
			defer span.End()
		}
		if !s.passes(pctx, e, route.metrics[i], p) {
			continue
		}
		d := &delivery{
			Delivery: Delivery{Service: s.cfg.Name, River: e.river.Name(), Type: env.Type,
				Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Attempt: 1, RecordTime: rec.Time, Behind: rec.Behind(), Replay: p.replay},
			eventID: env.ID, clock: s.clock, log: s.log, drain: rt.drain,
			out: &collector{s: s, cause: env}, metrics: route.metrics[i],
		}
		err := e.handler(withDelivery(pctx, d), newEvent(env, e.river, p.payload()), d.out)
		var interrupted *interruptedError
		switch {
		case err == nil || isRetired(err):
			s.processed.Add(1)
			it.handled = true
			it.out = append(it.out, d.out.out...)
		case errors.As(err, &interrupted) || rt.hard.Err() != nil:
			return false
		default:
			failed = true
			s.deadLetter(it, rec, route.typ, e.river.Name(), classOf(err), err, d.Attempt)
		}
	}
	if failed {
		s.forgetIn(p.store(s), p.key)
		p.key = ""
	}
	return true
}

// passes applies a river's key rules to a record, counting and reporting
// a rejection.
func (s *Service) passes(ctx context.Context, e *riverEntry, m *riverMetrics, p *prepared) bool {
	if e.proven && p.valid {
		return true // the schema requires what the river requires
	}
	problems := e.river.check(p.payload())
	if len(problems) == 0 {
		return true
	}
	s.tel.add(s.tel.rejected, m.typeRiver)
	if e.river.onReject != nil {
		e.river.onReject(ctx, Rejection{River: e.river.Name(), Event: cloneEnv(&p.env), Problems: problems})
	}
	return false
}

// classOf is the dead-letter class of a handler's final error.
func classOf(err error) string {
	switch {
	case errors.Is(err, ErrPanic):
		return ClassPanic
	case IsPermanent(err):
		return ClassPermanent
	}
	return ClassRetriesExhausted
}

func (s *Service) forget(key string) { s.forgetIn(s.dedup, key) }

func (s *Service) forgetIn(d DedupStore, key string) {
	if err := d.Forget(context.Background(), key); err != nil {
		s.tel.dedupErrs.Add(context.Background(), 1)
		s.log.Warn("de-duplication store failed to forget a key", "error", err)
	}
}

// deadLetterAll dead-letters a record-level failure once, counting it for
// every river that wanted the record.
func (s *Service) deadLetterAll(it *item, rec *Record, entries []*riverEntry, typ, class string, cause error) {
	for _, e := range entries[1:] {
		it.counts = append(it.counts, deadCount{typ, e.river.Name(), class})
	}
	s.deadLetter(it, rec, typ, entries[0].river.Name(), class, cause, 0)
}

// deadLetter adds the dead letter of rec to the item; the sender counts it
// once the broker acknowledged it.
func (s *Service) deadLetter(it *item, rec *Record, typ, river, class string, cause error, attempts int) {
	recordRiver := river
	if class == ClassMalformed || class == ClassSchema || class == ClassLoop {
		recordRiver = "" // a record-level failure: not one river's
	}
	it.out = append(it.out, s.deadLetterRecord(rec, recordRiver, class, cause, attempts))
	it.counts = append(it.counts, deadCount{typ, river, class})
	s.log.Warn("event dead-lettered", "class", class, "error", cause, "type", typ, "river", river,
		"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "attempts", attempts)
}

func (s *Service) countDead(typ, river, class string) {
	s.deadTotal.Add(1)
	s.tel.deadLettered(typ, river, class)
}
