package gapdetector

// watermark is the service's event-time clock: the latest plausible read
// time seen (unix seconds). It only moves forward.
//
// A single meter with a wrong clock must not drag the clock into the future
// (that would declare every other meter missed), so a read more than maxSkew
// ahead of the watermark is not used to advance it. When the whole stream
// jumps ahead (a simulator restarted at a later date, a long outage of the
// head-end) the watermark follows once confirm such reads arrived with no
// plausible read in between; it then moves to the earliest of them.
type watermark struct {
	max     int64 // unix seconds; 0 before the first read
	maxSkew int64 // seconds
	confirm int

	pendingMin int64
	pendingN   int

	parts map[int]int64 // latest plausible read time per partition
}

// observe records a read at t and reports whether t is plausible: not more
// than maxSkew ahead of the watermark. Implausible reads never advance the
// watermark by themselves.
func (w *watermark) observe(t int64) bool {
	switch {
	case w.max == 0:
		w.max = t
		return true
	case t <= w.max+w.maxSkew:
		if t > w.max {
			w.max = t
		}
		if t > w.max-w.maxSkew {
			w.pendingN = 0
		}
		return true
	}
	if w.pendingN == 0 || t < w.pendingMin {
		w.pendingMin = t
	}
	w.pendingN++
	if w.pendingN >= w.confirm {
		w.max = w.pendingMin
		w.pendingN = 0
		return true
	}
	return false
}

// observeAt is observe for a read from partition part of the input topic.
func (w *watermark) observeAt(part int, t int64) bool {
	if !w.observe(t) {
		return false
	}
	if w.parts == nil {
		w.parts = make(map[int]int64)
	}
	if t > w.parts[part] {
		w.parts[part] = t
	}
	return true
}

// value is the watermark periods close on: the lowest of the partitions'
// latest read times, so one partition consumed ahead of the others does not
// close windows the others still feed. A partition more than maxSkew behind
// the latest read (idle, or far behind) stops holding it back.
func (w *watermark) value() int64 {
	v := w.max
	for _, m := range w.parts {
		if m >= w.max-w.maxSkew && m < v {
			v = m
		}
	}
	return v
}
