package feederagg

import (
	"math"
	"slices"
	"time"
)

// Transformers is the transformer level over the rapids partitions an
// instance holds: one Aggregator per partition. The rapids are keyed by
// transformer, so a transformer's meters share a partition and its
// windows depend on that partition's records alone: they close on the
// partition's own watermark, as each read comes (CloseOn), never on the
// others'. A partition fully silent (read to its end, no record while the
// others went on) is the one case judged across partitions: CloseIdle.
// Not safe for concurrent use.
type Transformers struct {
	cfg    AggregatorConfig
	parts  map[int]*partition
	newest int64 // newest record time read, any partition (unix ns)
}

type partition struct {
	agg    *Aggregator
	record int64 // record time of its last record (unix ns); 0: unknown
	behind int64 // records behind its last record when it was fetched
}

// NewTransformers returns an empty transformer level.
func NewTransformers(cfg AggregatorConfig) *Transformers {
	return &Transformers{cfg: cfg, parts: make(map[int]*partition)}
}

// Observe stores one read in its partition's aggregator and emits the
// windows its partition's watermark closes with it. Closing on the read
// that moves the watermark, not on a timer, makes what a window holds a
// function of the partition's order alone: the same whatever the batching,
// the instance or a replay.
func (t *Transformers) Observe(r Read, emit func(Load)) (Outcome, error) {
	p := t.parts[r.Partition]
	if p == nil {
		p = &partition{agg: NewAggregator(t.cfg)}
		t.parts[r.Partition] = p
	}
	out, err := p.agg.Observe(r)
	if err != nil {
		return out, err
	}
	p.behind = max(r.Behind, 0)
	if !r.RecordTime.IsZero() {
		p.record = r.RecordTime.UnixNano()
		t.newest = max(t.newest, p.record)
	}
	p.agg.Advance(emit)
	return out, nil
}

// Drop forgets a partition (assigned anew: its history is replayed next;
// or taken away).
func (t *Transformers) Drop(partition int) { delete(t.parts, partition) }

// Partitions returns the partitions held, in order.
func (t *Transformers) Partitions() []int {
	ps := make([]int, 0, len(t.parts))
	for p := range t.parts {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// Aggregator returns partition p's aggregator (nil when not held), for
// tests and checkpoints.
func (t *Transformers) Aggregator(p int) *Aggregator {
	if pt := t.parts[p]; pt != nil {
		return pt.agg
	}
	return nil
}

// idle reports whether partition p is fully silent: read to its end (at
// its last record and now, AtEnd) while IdleAfter of newer record time was
// read from the other partitions.
func (t *Transformers) idle(n int, p *partition) bool {
	after := t.cfg.IdleAfter
	if after == 0 {
		after = DefaultConfig().IdleAfter
	}
	return after > 0 && p.behind == 0 && p.record != 0 && t.newest-p.record >= int64(after) &&
		(t.cfg.AtEnd == nil || t.cfg.AtEnd(n))
}

// CloseIdle closes the windows of the fully silent partitions (idle) up to
// the lowest watermark of the others (the highest when all are idle): a
// transformer whose meters all went silent, alone on its partition or with
// every other meter of it, is still published, with 0 reporting. Only the
// timer calls it; a partition with records still to read is never idle, so
// lag delays its windows and never closes them early. It returns how many
// windows it closed.
func (t *Transformers) CloseIdle(emit func(Load)) int {
	low, high, any := int64(math.MaxInt64), int64(0), false
	var idle []int
	for _, n := range t.Partitions() {
		p := t.parts[n]
		wm := p.agg.wm.Value()
		if wm.IsZero() {
			continue
		}
		if t.idle(n, p) {
			idle = append(idle, n)
			high = max(high, wm.Unix())
			continue
		}
		low, any = min(low, wm.Unix()), true
	}
	if !any {
		low = high
	}
	closed := 0
	for _, n := range idle {
		a := t.parts[n].agg
		a.floor = max(a.floor, low)
		closed += a.Advance(emit)
	}
	return closed
}

// Watermarks returns each held partition's watermark, for tests and tools.
func (t *Transformers) Watermarks() map[int]time.Time {
	out := make(map[int]time.Time, len(t.parts))
	for n, p := range t.parts {
		out[n] = p.agg.wm.Value()
	}
	return out
}
