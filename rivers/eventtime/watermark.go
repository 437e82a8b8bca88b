package eventtime

import (
	"math"
	"slices"
	"time"
)

// Defaults of [Config].
const (
	DefaultSkewConfirm = 100
	DefaultIdleAfter   = 10 * time.Second
)

// Config parameterises a [Watermark]. The zero value is usable: no clock
// skew guard, partitions idle after DefaultIdleAfter.
type Config struct {
	// MaxClockSkew: an event time more than this ahead of the latest
	// plausible one is implausible: it does not move the watermark (a
	// source with a wrong clock). Zero disables the guard: every event
	// time is plausible.
	MaxClockSkew time.Duration
	// SkewConfirm: this many implausible event times with no plausible one
	// in between show that the whole stream moved ahead; the watermark then
	// moves to the earliest of them. Default DefaultSkewConfirm (100).
	SkewConfirm int
	// IdleAfter: a partition read to its end (Behind 0 at its last record)
	// is idle once the service has read records stamped this much later
	// than its last one from other partitions. Measured on record times
	// (the broker's clock), not on the reader's. Default DefaultIdleAfter
	// (10s); negative: partitions are never idle.
	IdleAfter time.Duration
	// AtEnd, when set, must report whether the service has read partition
	// p to its end now (rivers: Service.AtEnd). A partition is idle only
	// while it does: Behind 0 at a partition's last record says it was at
	// its end when that record was fetched, which a reader that stalled
	// since (a loaded machine, a long pause) makes stale. Nil: that
	// fetch-time evidence alone.
	AtEnd func(p int) bool
}

// part is one partition's state. Times are unix nanoseconds, 0 = none.
type part struct {
	last     int64 // latest plausible event time
	record   int64 // record time of its last record
	behind   int64 // records behind its last record when it was fetched
	restored bool  // known from a checkpoint, not read since
}

// Watermark is the event-time clock of one consumer over the partitions it
// reads. See the package documentation. The zero value is not usable: use
// [New].
type Watermark struct {
	skew      int64 // ns; 0 = no guard
	confirm   int
	idleAfter int64 // ns; < 0 = never
	atEnd     func(p int) bool

	max        int64 // latest plausible event time
	value      int64 // the low watermark as last computed (monotonic)
	newest     int64 // newest record time read, over partitions
	pendingMin int64
	pendingN   int

	parts     []part // by partition
	seen      []bool // parts[i] is in use
	restoring int    // partitions restored and not woken yet
}

// New returns an empty watermark.
func New(cfg Config) *Watermark {
	if cfg.SkewConfirm <= 0 {
		cfg.SkewConfirm = DefaultSkewConfirm
	}
	if cfg.IdleAfter == 0 {
		cfg.IdleAfter = DefaultIdleAfter
	}
	return &Watermark{skew: int64(max(cfg.MaxClockSkew, 0)), confirm: cfg.SkewConfirm, idleAfter: int64(cfg.IdleAfter), atEnd: cfg.AtEnd}
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnix(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Observe records an event of partition p at event time t, whose record had
// behind records after it when it was fetched (rivers.Delivery.Behind) and
// was stamped recordTime by the broker (rivers.Delivery.RecordTime; zero
// when unknown: the partition then never becomes idle). It reports whether
// t is plausible (see Config.MaxClockSkew); an implausible time does not
// move the watermark, but the record still counts as read.
func (w *Watermark) Observe(p int, t time.Time, behind int64, recordTime time.Time) bool {
	pt := w.part(p)
	if pt.restored {
		pt.restored, pt.record = false, 0
	}
	pt.behind = max(behind, 0)
	if rt := unix(recordTime); rt != 0 {
		pt.record = rt
		w.newest = max(w.newest, rt)
		if w.restoring > 0 {
			w.wakeRestored(rt)
		}
	}
	ts := unix(t)
	if !w.plausible(ts) {
		return false
	}
	pt.last = max(pt.last, ts)
	return true
}

func (w *Watermark) part(p int) *part {
	p = max(p, 0)
	if p >= len(w.parts) {
		w.parts = slices.Grow(w.parts, p+1-len(w.parts))[:p+1]
		w.seen = slices.Grow(w.seen, p+1-len(w.seen))[:p+1]
	}
	w.seen[p] = true
	return &w.parts[p]
}

// wakeRestored starts the idle clock of partitions restored from a
// checkpoint at the first record read after the restore, from any
// partition: they become idle once the service has read IdleAfter of
// record time more without a record from them.
func (w *Watermark) wakeRestored(rt int64) {
	for i := range w.parts {
		if p := &w.parts[i]; w.seen[i] && p.restored && p.record == 0 {
			p.record = rt
		}
	}
	w.restoring = 0
}

// plausible applies the clock-skew guard to ts and advances max.
func (w *Watermark) plausible(ts int64) bool {
	switch {
	case ts == 0:
		return false
	case w.max == 0 || w.skew == 0:
		w.max = max(w.max, ts)
		return true
	case ts <= w.max+w.skew:
		w.max = max(w.max, ts)
		if ts > w.max-w.skew {
			w.pendingN = 0
		}
		return true
	}
	if w.pendingN == 0 || ts < w.pendingMin {
		w.pendingMin = ts
	}
	w.pendingN++
	if w.pendingN >= w.confirm {
		w.max = w.pendingMin
		w.pendingN = 0
		return true
	}
	return false
}

// Plausible reports whether t would be plausible, without recording it:
// for events that must pass the clock-skew guard but not move the
// watermark (events of another topic).
func (w *Watermark) Plausible(t time.Time) bool {
	ts := unix(t)
	return ts != 0 && (w.max == 0 || w.skew == 0 || ts <= w.max+w.skew)
}

func (w *Watermark) idle(i int, p *part) bool {
	return w.idleAfter >= 0 && p.behind == 0 && p.record != 0 && w.newest-p.record >= w.idleAfter &&
		(w.atEnd == nil || p.restored || w.atEnd(i)) // a restored partition has not been read since
}

// Value returns the low watermark: the lowest latest plausible event time
// over the partitions that are not idle (the latest plausible event time
// when every partition is idle). It never moves back. Zero before the first
// plausible event.
func (w *Watermark) Value() time.Time {
	v := int64(math.MaxInt64)
	for i := range w.parts {
		p := &w.parts[i]
		if !w.seen[i] || p.last == 0 || w.idle(i, p) {
			continue
		}
		v = min(v, p.last)
	}
	if v == math.MaxInt64 {
		v = w.max
	}
	w.value = max(w.value, v)
	return fromUnix(w.value)
}

// Max returns the latest plausible event time read (zero before the
// first): the newest the stream has shown, whatever the partitions.
func (w *Watermark) Max() time.Time { return fromUnix(w.max) }

// ClosedThrough returns the end of the latest window that is closed with
// the given allowed lateness: Value() - lateness. A window ending at E is
// closed once E is not after it. Zero before the first plausible event.
func (w *Watermark) ClosedThrough(lateness time.Duration) time.Time {
	v := w.Value()
	if v.IsZero() {
		return v
	}
	return v.Add(-lateness)
}

// CaughtUp reports whether the service had read every partition it has
// seen to its end at that partition's last record.
func (w *Watermark) CaughtUp() bool {
	for i := range w.parts {
		if w.seen[i] && (w.parts[i].behind > 0 || w.parts[i].restored) {
			return false
		}
	}
	return true
}

// PartitionState is one partition as the watermark sees it.
type PartitionState struct {
	Partition  int
	Last       time.Time // latest plausible event time
	RecordTime time.Time // record time of its last record
	Behind     int64     // records behind its last record when it was fetched
	Idle       bool
	// Restored: known from a checkpoint and not read since the restore.
	Restored bool
}

// Partitions returns the partitions seen, in order.
func (w *Watermark) Partitions() []PartitionState {
	var out []PartitionState
	for i := range w.parts {
		if !w.seen[i] {
			continue
		}
		p := &w.parts[i]
		out = append(out, PartitionState{Partition: i, Last: fromUnix(p.last), RecordTime: fromUnix(p.record),
			Behind: p.behind, Idle: w.idle(i, p), Restored: p.restored})
	}
	return out
}
