package eventtime

import (
	"math"
	"slices"
	"time"
)

// DefaultSettle is the default of [NewProgress]'s settle time.
const DefaultSettle = 5 * time.Second

// Progress is how far a reader has read its partitions: per partition, the
// newest record time read and how many records were behind it. A monitor
// feeds it every record of the topic it watches (a river of "*" that
// reads no payload costs almost nothing) and judges liveness against the
// wall clock only while [Progress.CaughtUp]; otherwise its position in the
// stream ([Progress.Position]) is the clock, and a verdict that depends on
// what it has not read yet is withheld.
type Progress struct {
	settle int64 // ns

	parts   []progressPart
	seen    []bool
	behind  int   // partitions with records behind their last one
	since   int64 // wall time (ns) since every partition was read to its end; 0 = behind
	started bool
}

type progressPart struct {
	record int64 // newest record time read (ns)
	behind int64
}

// NewProgress returns an empty progress; settle is how long (wall clock)
// every partition must have been read to its end before the reader counts
// as caught up (default DefaultSettle when settle <= 0).
func NewProgress(settle time.Duration) *Progress {
	if settle <= 0 {
		settle = DefaultSettle
	}
	return &Progress{settle: int64(settle)}
}

// Observe records a record of partition p stamped recordTime that had
// behind records after it when it was fetched, read at wall time now.
func (pr *Progress) Observe(p int, recordTime time.Time, behind int64, now time.Time) {
	p = max(p, 0)
	if p >= len(pr.parts) {
		pr.parts = slices.Grow(pr.parts, p+1-len(pr.parts))[:p+1]
		pr.seen = slices.Grow(pr.seen, p+1-len(pr.seen))[:p+1]
	}
	pt := &pr.parts[p]
	wasBehind := pr.seen[p] && pt.behind > 0
	pr.seen[p] = true
	pt.record = max(pt.record, unix(recordTime))
	pt.behind = max(behind, 0)
	switch {
	case wasBehind && pt.behind == 0:
		pr.behind--
	case !wasBehind && pt.behind > 0:
		pr.behind++
	}
	switch {
	case pr.behind > 0:
		pr.since = 0
	case pr.since == 0:
		pr.since = max(unix(now), 1)
	}
	pr.started = true
}

// Started reports whether any record was observed.
func (pr *Progress) Started() bool { return pr.started }

// Behind reports whether some partition's last record had records behind
// it: the reader has not read everything that was there.
func (pr *Progress) Behind() bool { return pr.behind > 0 }

// CaughtUp reports whether every partition read so far was read to its end
// and has been for the settle time at now. False before the first record.
func (pr *Progress) CaughtUp(now time.Time) bool {
	return pr.started && pr.behind == 0 && unix(now)-pr.since >= pr.settle
}

// Records returns the records that were behind the partitions' last
// records when they were fetched, summed over partitions.
func (pr *Progress) Records() int64 {
	var n int64
	for i := range pr.parts {
		if pr.seen[i] {
			n += pr.parts[i].behind
		}
	}
	return n
}

// Position returns the reader's position in the stream: the oldest of the
// newest record times read on the partitions that are behind; when none
// is, the newest record time read. Zero before the first record (or when
// the transport gives no record times).
func (pr *Progress) Position() time.Time {
	lo, hi := int64(math.MaxInt64), int64(0)
	for i := range pr.parts {
		if !pr.seen[i] {
			continue
		}
		p := &pr.parts[i]
		hi = max(hi, p.record)
		if p.behind > 0 && p.record != 0 {
			lo = min(lo, p.record)
		}
	}
	if lo == math.MaxInt64 {
		return fromUnix(hi)
	}
	return fromUnix(lo)
}
