package eventtime

import (
	"math"
	"slices"
	"time"
)

// Defaults of [NewProgress].
const (
	DefaultTolerance = 2 * time.Second
	DefaultSettle    = 5 * time.Second
)

// Progress is how far a reader has read its partitions: per partition, the
// newest record time read, how many records were behind its last record
// when it was fetched, and when the reader last reached its end. A monitor
// feeds it every record of the topic it watches (a river of "*" that reads
// no payload costs almost nothing) and judges ages against
// [Progress.Position], its position in the stream, never against the wall
// clock: a monitor that is behind, or stalled, cannot see heartbeats it has
// not read and must not count them as missing.
//
// A partition is lagging when its last record had records behind it and the
// reader has not reached the partition's end for more than the tolerance
// (records fetched in batches are behind each other for an instant; that
// is not lag). The reader is caught up when no partition is lagging and
// none has been for the settle time. A partition read to its end stays
// caught up however long nothing comes: a quiet partition is not a stalled
// one, and if the reader stalls as a whole its position stops, so nothing
// ages.
type Progress struct {
	tolerance, settle int64 // ns

	parts       []progressPart
	seen        []bool
	newest      int64 // newest record time read (ns)
	lastLagging int64 // wall time (ns) a partition was last found lagging; 0 = never
	started     bool
}

type progressPart struct {
	record int64 // newest record time read (ns)
	behind int64 // records behind its last record when fetched
	unread int64 // records the broker held that the reader had not done, at the last end check
	atEnd  int64 // wall time (ns) it was last known to be read to its end
}

// NewProgress returns an empty progress. tolerance is how long (wall clock)
// a partition may have records behind its last one before it is lagging
// (default DefaultTolerance when <= 0); settle how long no partition may
// have lagged before the reader is caught up again (default DefaultSettle).
func NewProgress(tolerance, settle time.Duration) *Progress {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if settle <= 0 {
		settle = DefaultSettle
	}
	return &Progress{tolerance: int64(tolerance), settle: int64(settle)}
}

// Observe records a record of partition p stamped recordTime (the broker's
// clock; rivers.Delivery.RecordTime) that had behind records after it when
// it was fetched (rivers.Delivery.Behind), read at wall time now.
func (pr *Progress) Observe(p int, recordTime time.Time, behind int64, now time.Time) {
	p = max(p, 0)
	if p >= len(pr.parts) {
		pr.parts = slices.Grow(pr.parts, p+1-len(pr.parts))[:p+1]
		pr.seen = slices.Grow(pr.seen, p+1-len(pr.seen))[:p+1]
	}
	pt, n := &pr.parts[p], unix(now)
	if !pr.seen[p] {
		pr.seen[p], pt.atEnd = true, n
	}
	if pr.lagging(pt, n) {
		pr.lastLagging = n
	}
	rt := unix(recordTime)
	pt.record = max(pt.record, rt)
	pr.newest = max(pr.newest, rt)
	// The lag clock starts at the first record found with others behind
	// it after the partition was read to its end: until then the reader
	// was at the end, as far as it knows.
	if pt.behind == 0 || behind <= 0 {
		pt.atEnd = n
	}
	pt.behind = max(behind, 0)
	pr.started = true
}

func (pr *Progress) lagging(pt *progressPart, now int64) bool {
	return (pt.behind > 0 || pt.unread > 0) && now-pt.atEnd > pr.tolerance
}

// SetUnread records a check of the broker's end offsets at now: partition
// p held n records the reader has not done yet (rivers: Service.Unread).
// Behind counts records of the fetched batch only; a reader that stalls
// between fetches learns of the records appended since from these checks,
// so a partition it has not fetched lately is not taken as read to its
// end. A partition that was at its end starts its lag clock now; n == 0
// only clears what an earlier check found (Behind still counts).
func (pr *Progress) SetUnread(p int, n int64, now time.Time) {
	if p < 0 || p >= len(pr.parts) || !pr.seen[p] {
		return
	}
	pt, t := &pr.parts[p], unix(now)
	n = max(n, 0)
	if n > 0 && pt.unread == 0 && pt.behind == 0 {
		pt.atEnd = t
	}
	pt.unread = n
	if pr.lagging(pt, t) {
		pr.lastLagging = t
	}
}

// Partitions returns the partitions observed, in order.
func (pr *Progress) Partitions() []int {
	var out []int
	for i := range pr.parts {
		if pr.seen[i] {
			out = append(out, i)
		}
	}
	return out
}

// Started reports whether any record was observed.
func (pr *Progress) Started() bool { return pr.started }

// Lagging reports whether some partition is lagging at now: its last record
// had records behind it and the reader has not reached its end for more
// than the tolerance.
func (pr *Progress) Lagging(now time.Time) bool {
	n := unix(now)
	for i := range pr.parts {
		if pr.seen[i] && pr.lagging(&pr.parts[i], n) {
			return true
		}
	}
	return false
}

// CaughtUp reports whether the reader is caught up at now: records were
// read, no partition is lagging, and none was for the settle time.
func (pr *Progress) CaughtUp(now time.Time) bool {
	if !pr.started || pr.Lagging(now) {
		return false
	}
	return pr.lastLagging == 0 || unix(now)-pr.lastLagging >= pr.settle
}

// Records returns the records that were behind the partitions' last
// records when they were fetched, summed over partitions.
func (pr *Progress) Records() int64 {
	var n int64
	for i := range pr.parts {
		if pr.seen[i] {
			n += max(pr.parts[i].behind, pr.parts[i].unread)
		}
	}
	return n
}

// ReadThrough is Position counting, besides the records behind each
// partition's last fetched one, those the latest end check (SetUnread)
// found unread: the time through which the reader has read everything the
// broker held. Monitors judge ages against it: a heartbeat appended to a
// partition the reader has not fetched since cannot be missing. Without
// end checks it equals Position.
func (pr *Progress) ReadThrough() time.Time {
	lo := int64(math.MaxInt64)
	for i := range pr.parts {
		if p := &pr.parts[i]; pr.seen[i] && (p.behind > 0 || p.unread > 0) && p.record != 0 {
			lo = min(lo, p.record)
		}
	}
	if lo == math.MaxInt64 {
		return fromUnix(pr.newest)
	}
	return fromUnix(lo)
}

// Position returns the reader's position in the stream: the oldest of the
// newest record times read on the partitions with records behind their
// last one; when none has, the newest record time read. Everything
// published before it was read (as far as record times tell). Zero before
// the first record, or when the transport gives no record times.
func (pr *Progress) Position() time.Time {
	lo := int64(math.MaxInt64)
	for i := range pr.parts {
		if p := &pr.parts[i]; pr.seen[i] && p.behind > 0 && p.record != 0 {
			lo = min(lo, p.record)
		}
	}
	if lo == math.MaxInt64 {
		return fromUnix(pr.newest)
	}
	return fromUnix(lo)
}
