package simulator

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Source is the ce_source of everything the simulator publishes.
const Source = "/services/" + Name

// PublishFunc stores records durably (a rivers.Transport's Publish, or
// rapids.Producer's); it is called from several goroutines, each with
// records of disjoint meters, so one meter's reads keep their order.
type PublishFunc func(ctx context.Context, records ...rivers.Record) error

// Runner drives a Generator against a clock and publishes its uploads as
// meter.reading.v1 records on a topic.
type Runner struct {
	gen   *Generator
	cfg   Config
	topic string
	now   func() time.Time

	wall0 time.Time
	grid  atomic.Int64 // unix nanoseconds of the last due time published
	sent  atomic.Uint64
	lanes int
}

// NewRunner prepares a run of g on topic. cfg supplies Speed, Rate, End,
// BatchSize and ReadingTTL.
func NewRunner(g *Generator, cfg Config, topic string) *Runner {
	r := &Runner{gen: g, cfg: cfg, topic: topic, now: time.Now, lanes: 4}
	r.grid.Store(g.model.sc.Start.UnixNano())
	return r
}

// Generator returns the runner's generator (to inject faults).
func (r *Runner) Generator() *Generator { return r.gen }

// GridNow returns the simulated time: in paced mode the accelerated clock,
// in max mode the due time of the last upload published.
func (r *Runner) GridNow() time.Time {
	if r.cfg.Rate == RatePaced && !r.wall0.IsZero() {
		return r.gridAt(r.now())
	}
	return time.Unix(0, r.grid.Load()).UTC()
}

func (r *Runner) gridAt(wall time.Time) time.Time {
	return r.gen.model.sc.Start.Add(time.Duration(float64(wall.Sub(r.wall0)) * r.cfg.Speed))
}

func (r *Runner) wallAt(grid time.Time) time.Time {
	return r.wall0.Add(time.Duration(float64(grid.Sub(r.gen.model.sc.Start)) / r.cfg.Speed))
}

// Published returns how many records have been published.
func (r *Runner) Published() uint64 { return r.sent.Load() }

// ErrEnded is returned by Run when grid time passed Config.End.
var ErrEnded = errors.New("simulation reached its end time")

// Run generates and publishes until ctx is done (returning nil) or grid
// time passes Config.End (returning ErrEnded after publishing everything,
// held-back reads included). A publish error stops the run and is
// returned: the caller (the rivers service) restarts or reports it.
func (r *Runner) Run(ctx context.Context, publish PublishFunc) error {
	r.wall0 = r.now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	type batch struct{ recs []rivers.Record }
	lanes := make([]chan batch, r.lanes)
	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan batch, 2)
		wg.Add(1)
		go func(in <-chan batch) {
			defer wg.Done()
			for b := range in {
				if ctx.Err() != nil {
					continue
				}
				if err := publish(ctx, b.recs...); err != nil {
					cancel(fmt.Errorf("publish meter.reading.v1: %w", err))
					continue
				}
				r.sent.Add(uint64(len(b.recs)))
			}
		}(lanes[i])
	}
	enc := newEncoder(r.topic, r.cfg.ReadingTTL)
	pending := make([][]rivers.Record, r.lanes)
	seed := maphash.MakeSeed()
	flush := func(force bool) {
		for i, p := range pending {
			if len(p) == 0 || (!force && len(p) < r.cfg.BatchSize/r.lanes) {
				continue
			}
			select {
			case lanes[i] <- batch{recs: p}:
			case <-ctx.Done():
			}
			pending[i] = nil
		}
	}
	send := func(ups []Upload) {
		now := r.now()
		for u := range ups {
			up := &ups[u]
			for _, it := range up.Items {
				lane := maphash.String(seed, it.Reading.MeterID) % uint64(r.lanes)
				pending[lane] = append(pending[lane], enc.record(it, up.Due, now))
			}
			r.grid.Store(up.Due.UnixNano())
			if r.cfg.Rate == RateMax {
				flush(false)
			}
		}
	}
	var runErr error
	for ctx.Err() == nil {
		next := r.gen.Next()
		if !r.cfg.End.IsZero() && next.After(r.cfg.End) {
			send(r.gen.Flush())
			runErr = ErrEnded
			break
		}
		ups := r.gen.Interval()
		if r.cfg.Rate == RateMax {
			send(ups)
			continue
		}
		// Paced: release each upload when the grid clock reaches its due
		// time, publishing together the uploads due at the same moment.
		for len(ups) > 0 && ctx.Err() == nil {
			if wait := time.Until(r.wallAt(ups[0].Due)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
				continue
			}
			n := 1
			for n < len(ups) && !r.wallAt(ups[n].Due).After(r.now()) {
				n++
			}
			send(ups[:n])
			flush(true)
			ups = ups[n:]
		}
	}
	flush(true)
	for _, l := range lanes {
		close(l)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return runErr
}

// encoder turns items into binary-mode CloudEvent records without the
// per-event validation of contracts.EncodeBinary: the simulator knows its
// JSON is valid, and its malformed items must not be.
type encoder struct {
	topic  string
	ttl    time.Duration
	consts []contracts.Header
	arena  []byte
}

func newEncoder(topic string, ttl time.Duration) *encoder {
	schema := catalog.BaseURL + events.TypeMeterReading + ".json"
	return &encoder{topic: topic, ttl: ttl, consts: []contracts.Header{
		{Key: contracts.HeaderSpecVersion, Value: []byte(contracts.SpecVersion)},
		{Key: contracts.HeaderSource, Value: []byte(Source)},
		{Key: contracts.HeaderType, Value: []byte(events.TypeMeterReading)},
		{Key: contracts.HeaderDataSchema, Value: []byte(schema)},
		{Key: contracts.HeaderContentType, Value: []byte(contracts.ContentTypeJSON)},
	}}
}

// alloc returns n bytes of a shared arena: records of one batch share a
// few large allocations instead of one each.
func (e *encoder) alloc(n int) []byte {
	if cap(e.arena)-len(e.arena) < n {
		e.arena = make([]byte, 0, max(64<<10, n))
	}
	b := e.arena[len(e.arena) : len(e.arena) : len(e.arena)+n]
	return b
}

// commit claims b in the arena when b was written in place there (an
// append that outgrew its allocation moved b elsewhere: nothing to claim).
func (e *encoder) commit(b []byte) []byte {
	n := len(e.arena)
	if len(b) > 0 && n+len(b) <= cap(e.arena) && &e.arena[:n+1][n] == &b[0] {
		e.arena = e.arena[:n+len(b)]
	}
	return b
}

// record encodes one item: ce_time is the upload's due time (when the
// collector sent it, on the grid clock); ce_expirytime is the wall clock
// plus the TTL.
func (e *encoder) record(it Item, due, now time.Time) rivers.Record {
	hs := make([]contracts.Header, len(e.consts), len(e.consts)+3)
	copy(hs, e.consts)
	// A reading's id is its identity (meter, read time): the same reading
	// published again (a duplicate fault, a restart, a retry) has the same
	// ce_id. A malformed record is not that reading: it gets its own.
	var id []byte
	if it.Kind == ItemMalformed {
		id = e.commit(append(e.alloc(36), contracts.NewID()...))
	} else {
		id = e.commit(events.AppendReadingID(e.alloc(36), it.Reading.MeterID, it.Reading.ReadAt))
	}
	hs = append(hs, contracts.Header{Key: contracts.HeaderID, Value: id})
	hs = append(hs, contracts.Header{Key: contracts.HeaderTime, Value: e.commit(due.UTC().AppendFormat(e.alloc(32), time.RFC3339Nano))})
	if e.ttl > 0 {
		hs = append(hs, contracts.Header{Key: contracts.HeaderExpiryTime, Value: e.commit(now.Add(e.ttl).UTC().AppendFormat(e.alloc(32), time.RFC3339))})
	}
	// Keyed by transformer (contracts/README): a transformer's meters share
	// a partition, one meter's reads keep their order.
	k := it.Reading.TransformerID
	if k == "" {
		k = it.Reading.MeterID
	}
	key := e.commit(append(e.alloc(len(k)), k...))
	value := e.commit(it.AppendValue(e.alloc(320)))
	return rivers.Record{Topic: e.topic, Key: key, Value: value, Headers: hs}
}
