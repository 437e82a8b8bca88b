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
	// plausible one of its partition is implausible: it does not move the
	// watermark (a source with a wrong clock). Each partition is judged
	// against itself, so a consumer catching up, which reads one partition
	// hours ahead of another, refuses nothing. Zero disables the guard:
	// every event time is plausible.
	MaxClockSkew time.Duration
	// SkewConfirm: this many implausible event times of one partition with
	// no plausible one in between show that the stream moved ahead; the
	// partition then moves to the earliest of them. Default
	// DefaultSkewConfirm (100).
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
	// Assigned, when set, returns the partitions assigned to the service
	// now and whether that is known (rivers: Service.Assigned). While the
	// known set is empty (joining its group) the watermark stays. An
	// assigned partition not read yet holds the watermark while it has
	// records to read (AtEnd false), or, without AtEnd, until the service
	// has read IdleAfter of record time from others since it was found
	// unread; a partition no
	// longer assigned (a rebalance gave it to another instance) stops
	// holding it. Nil: only partitions read from count.
	Assigned func() ([]int, bool)
}

// part is one partition's state. Times are unix nanoseconds, 0 = none.
type part struct {
	last     int64 // latest plausible event time
	record   int64 // record time of its last record
	behind   int64 // records behind its last record when it was fetched
	restored bool  // known from a checkpoint, not read since

	pendingMin int64 // earliest implausible event time since the last plausible one
	pendingN   int   // implausible event times in a row
}

// Watermark is the event-time clock of one consumer over the partitions it
// reads. See the package documentation. The zero value is not usable: use
// [New].
type Watermark struct {
	skew      int64 // ns; 0 = no guard
	confirm   int
	idleAfter int64 // ns; < 0 = never
	atEnd     func(p int) bool
	assigned  func() ([]int, bool)

	max    int64 // latest plausible event time
	value  int64 // the low watermark as last computed (monotonic)
	newest int64 // newest record time read, over partitions
	// waiting: assigned partitions not read yet, each with the newest
	// record time read (from others) when it was first found waiting.
	waiting map[int]int64

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
	return &Watermark{skew: int64(max(cfg.MaxClockSkew, 0)), confirm: cfg.SkewConfirm, idleAfter: int64(cfg.IdleAfter),
		atEnd: cfg.AtEnd, assigned: cfg.Assigned}
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
	if !w.plausible(pt, ts) {
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

// plausible applies the clock-skew guard to ts, an event time of pt, and
// advances max. The reference is the partition's own latest plausible time:
// a partition's records come in the order they were published, so a jump
// of more than the skew within one partition is a wrong clock, where a jump
// between partitions is only a reader that is further on one than on
// another. A partition's first time is plausible (it has no reference that
// a catching-up reader does not make wrong).
func (w *Watermark) plausible(pt *part, ts int64) bool {
	if ts == 0 {
		return false
	}
	ref := pt.last
	if ref == 0 || w.skew == 0 || ts <= ref+w.skew {
		w.max = max(w.max, ts)
		if ts > ref-w.skew {
			pt.pendingN = 0
		}
		return true
	}
	if pt.pendingN == 0 || ts < pt.pendingMin {
		pt.pendingMin = ts
	}
	pt.pendingN++
	if pt.pendingN < w.confirm {
		return false
	}
	// The stream moved ahead (a simulator restarted at a later date): the
	// newest time read moves to the earliest of the times that showed it.
	pt.pendingN = 0
	w.max = max(w.max, pt.pendingMin)
	return true
}

// Plausible reports whether t would be plausible, without recording it:
// for events that must pass the clock-skew guard but not move the
// watermark (events of another topic).
func (w *Watermark) Plausible(t time.Time) bool {
	ts := unix(t)
	return ts != 0 && (w.max == 0 || w.skew == 0 || ts <= w.max+w.skew)
}

// holdsUnread applies Config.Assigned: it reports whether an assigned
// partition not read yet holds the watermark, and returns the assigned set
// (nil when unknown) so that Value skips partitions no longer assigned.
func (w *Watermark) holdsUnread() (hold bool, assigned map[int]bool) {
	if w.assigned == nil {
		return false, nil
	}
	ps, known := w.assigned()
	if !known {
		return false, nil
	}
	if len(ps) == 0 {
		// Nothing assigned (yet): what was read or restored before is
		// no longer this service's to judge, and nothing new is.
		return true, nil
	}
	assigned = make(map[int]bool, len(ps))
	for _, p := range ps {
		assigned[p] = true
		if p < len(w.parts) && w.seen[p] && (w.parts[p].last != 0 || w.parts[p].record != 0) {
			delete(w.waiting, p) // read (or restored from a checkpoint)
			continue
		}
		if w.atEnd != nil && w.atEnd(p) {
			continue // nothing to read now
		}
		if w.waiting == nil {
			w.waiting = map[int]int64{}
		}
		since, ok := w.waiting[p]
		if !ok || since == 0 {
			w.waiting[p] = w.newest
			hold = true
			continue
		}
		// Without AtEnd: quiet while the service read IdleAfter of record
		// time from others.
		if w.atEnd != nil || w.idleAfter < 0 || w.newest-since < w.idleAfter {
			hold = true
		}
	}
	for p := range w.waiting {
		if !assigned[p] {
			delete(w.waiting, p)
		}
	}
	return hold, assigned
}

// idle reports whether partition i stops holding the watermark. A
// partition restored from a checkpoint and assigned to the service holds it
// like any other until the SDK says it is read to its end: after a restart
// the reader may go through one partition's backlog long before another's,
// and the record time read meanwhile says nothing of the other's silence.
// Without knowledge of the assignment (assignedKnown false), a restored
// partition may no longer be the service's, so record time alone decides.
func (w *Watermark) idle(i int, p *part, assignedKnown bool) bool {
	return w.idleAfter >= 0 && p.behind == 0 && p.record != 0 && w.newest-p.record >= w.idleAfter &&
		(w.atEnd == nil || w.atEnd(i) || (p.restored && !assignedKnown))
}

// Value returns the low watermark: the lowest latest plausible event time
// over the partitions that are not idle (the latest plausible event time
// when every partition is idle). It never moves back. Zero before the first
// plausible event.
func (w *Watermark) Value() time.Time {
	hold, assigned := w.holdsUnread()
	if hold {
		return fromUnix(w.value) // an assigned partition is still to be read
	}
	v := int64(math.MaxInt64)
	for i := range w.parts {
		p := &w.parts[i]
		if !w.seen[i] || p.last == 0 || (assigned != nil && !assigned[i]) || w.idle(i, p, assigned != nil) {
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

// Forget drops what the watermark knows of partition p: call it when the
// partition's state moves to another instance, and before its history is
// replayed into this one (rivers.PartitionState). The low watermark is then
// computed again from the partitions held and may move back once: a
// partition rebuilt from its history holds it at its own position, never
// behind a value computed without it (the instance may be far ahead on its
// other partitions). Judgements already made stay made.
func (w *Watermark) Forget(p int) {
	if p >= 0 && p < len(w.parts) {
		if w.parts[p].restored {
			w.restoring = max(w.restoring-1, 0)
		}
		w.parts[p], w.seen[p] = part{}, false
	}
	delete(w.waiting, p)
	w.value = 0
	w.max = 0
	for i := range w.parts {
		if w.seen[i] {
			w.max = max(w.max, w.parts[i].last)
		}
	}
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
			Behind: p.behind, Idle: w.idle(i, p, w.assigned != nil), Restored: p.restored})
	}
	return out
}
