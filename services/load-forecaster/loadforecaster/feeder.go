package loadforecaster

import (
	"slices"
)

// feeder is one feeder's load, hour by hour: the closed hours (the mean
// load_kw of their 15-minute windows) and the hour being filled.
type feeder struct {
	hours      map[int64]float64 // hour start (unix s) → mean kW
	lastClosed int64             // start of the newest closed hour; 0: none
	open       int64             // start of the hour being filled; 0: none
	sum        float64
	starts     []int64 // windows of the open hour, by start (a repeated one is a duplicate)
}

func newFeeder(hours map[int64]float64) *feeder {
	f := &feeder{hours: hours}
	if f.hours == nil {
		f.hours = map[int64]float64{}
	}
	for h := range f.hours {
		f.lastClosed = max(f.lastClosed, h)
	}
	return f
}

func (f *feeder) at(h int64) (float64, bool) {
	v, ok := f.hours[h]
	return v, ok
}

// closed is an hour that just closed: its start and mean load.
type closed struct {
	start int64
	load  float64
}

// add takes one 15-minute window (start and end in unix seconds) and
// returns the hours it closed: the open hour when a window of a later hour
// arrives (its last windows never came), and the window's own hour when it
// is the hour's last. A window of an hour already closed is dropped: feeder
// windows are not corrected, and a repeated one (a publisher's restart) is
// a duplicate.
func (f *feeder) add(start, end int64, loadKW float64) []closed {
	h := start - start%hour
	if h <= f.lastClosed && f.lastClosed != 0 {
		return nil
	}
	var out []closed
	if f.open != 0 && h > f.open {
		out = append(out, f.close())
	}
	if f.open == 0 {
		f.open = h
	}
	if !slices.Contains(f.starts, start) {
		f.starts = append(f.starts, start)
		f.sum += loadKW
	}
	if end >= h+hour {
		out = append(out, f.close())
	}
	return out
}

func (f *feeder) close() closed {
	c := closed{start: f.open, load: f.sum / float64(len(f.starts))}
	f.hours[c.start] = c.load
	f.lastClosed = c.start
	f.open, f.sum, f.starts = 0, 0, f.starts[:0]
	return c
}

// trim forgets hours older than keep hours before the newest.
func (f *feeder) trim(keep int) []int64 {
	var gone []int64
	for h := range f.hours {
		if h <= f.lastClosed-int64(keep)*hour {
			delete(f.hours, h)
			gone = append(gone, h)
		}
	}
	return gone
}

// historyHours counts the closed hours known.
func (f *feeder) historyHours() int { return len(f.hours) }
