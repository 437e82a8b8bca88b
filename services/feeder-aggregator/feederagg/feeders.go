package feederagg

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// FeederConfig parameterises Feeders; zero fields take DefaultConfig's.
type FeederConfig struct {
	Window          time.Duration
	ExpectedHorizon time.Duration
	// Wait: a feeder window still waiting for a transformer closes with
	// those that reported once the rivers partition's event time (the
	// latest transformer window end read on it) is this far past its end.
	Wait time.Duration
	// Settle: a feeder's windows close as complete only once a record
	// stamped this long (record time) after the feeder's first transformer
	// window was read: at the start of a stream a transformer not seen yet
	// cannot be waited for, and the rapids partitions of a feeder's
	// transformers start being read at slightly different times. 0: none.
	Settle time.Duration
}

// Feeders is the feeder level, the second stage: it sums the transformer
// windows (feeder.load.v1, level transformer) read from the rivers, where
// they are keyed by feeder, so one instance holds all of a feeder's. State
// is per rivers partition (Drop). Not safe for concurrent use.
//
// A feeder window closes, in order, when every expected transformer has
// reported it or a later window (one that skips it had no expected meter
// in it) and a later transformer window was read on the rivers partition
// and Settle of record time passed since the feeder's first transformer
// window (a transformer not seen yet cannot be waited for: at the start of
// a stream, one whose first window comes later than that is missing from
// the feeder's first windows); a transformer is expected when it reported a window with meters
// reporting ending within ExpectedHorizon before the window's end (a
// transformer whose meters all went silent is published with 0 reporting
// for that horizon, then no more). It closes anyway, with the transformers
// that reported, once the rivers partition's event time is Wait past its
// end: a transformer that stopped being published (its last meters left
// the horizon, or it was decommissioned) is not waited for longer. A
// transformer window for a closed feeder window is dropped (TooLate).
type Feeders struct {
	cfg   FeederConfig
	parts map[int]*feederPart
}

type feederPart struct {
	time    int64 // latest transformer window end read (unix)
	feeders map[string]*feeder
}

type feeder struct {
	since  int64 // record time of its first transformer window read (unix ns); 0: unknown
	trafos map[string]*trafoSeen
	open   map[int64][]Load // by window end: the transformer windows, sorted by id
	closed int64            // end of the last closed window; 0: none
}

type trafoSeen struct {
	first, last int64 // ends of its first and latest windows read
	reporting   int64 // end of its latest window with meters reporting; 0: none
}

// NewFeeders returns an empty feeder level.
func NewFeeders(cfg FeederConfig) *Feeders {
	d := DefaultConfig()
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.ExpectedHorizon <= 0 {
		cfg.ExpectedHorizon = d.ExpectedHorizon
	}
	if cfg.Wait <= 0 {
		cfg.Wait = d.FeederWait
	}
	return &Feeders{cfg: cfg, parts: make(map[int]*feederPart)}
}

// Drop forgets a rivers partition's feeders.
func (f *Feeders) Drop(partition int) { delete(f.parts, partition) }

// Observe stores a transformer window read from rivers partition
// partition in a record stamped recordTime (zero: unknown) and emits the
// feeder windows it closes.
func (f *Feeders) Observe(partition int, l Load, recordTime time.Time, emit func(Load)) (Outcome, error) {
	switch {
	case l.Level != Transformer || l.ID == "" || l.FeederID == "":
		return 0, fmt.Errorf("%w: not a transformer window with a feeder", ErrInvalidRead)
	case l.End.Sub(l.Start) != f.cfg.Window || l.End.Unix()%int64(f.cfg.Window/time.Second) != 0:
		return 0, fmt.Errorf("%w: transformer %s: window %v..%v is not one of %v", ErrInvalidRead, l.ID, l.Start, l.End, f.cfg.Window)
	}
	p := f.parts[partition]
	if p == nil {
		p = &feederPart{feeders: make(map[string]*feeder)}
		f.parts[partition] = p
	}
	fd := p.feeders[l.FeederID]
	if fd == nil {
		fd = &feeder{trafos: make(map[string]*trafoSeen), open: make(map[int64][]Load)}
		p.feeders[l.FeederID] = fd
	}
	rt := int64(0)
	if !recordTime.IsZero() {
		rt = recordTime.UnixNano()
		if fd.since == 0 {
			fd.since = rt
		}
	}
	e := l.End.Unix()
	moved := e > p.time
	p.time = max(p.time, e)
	out := Accepted
	if fd.closed != 0 && e <= fd.closed {
		out = TooLate
	} else {
		ls := fd.open[e]
		i, found := slices.BinarySearchFunc(ls, l.ID, func(x Load, id string) int { return cmp.Compare(x.ID, id) })
		if found {
			out = Duplicate
		} else {
			fd.open[e] = slices.Insert(ls, i, l)
		}
	}
	if out != Duplicate {
		ts := fd.trafos[l.ID]
		if ts == nil {
			ts = &trafoSeen{first: e}
			fd.trafos[l.ID] = ts
		}
		ts.first, ts.last = min(ts.first, e), max(ts.last, e)
		if l.MetersReporting > 0 {
			ts.reporting = max(ts.reporting, e)
		}
	}
	// Closing a window can only follow a transformer window of its feeder
	// or the partition's time moving: both come with a record, so what a
	// feeder window holds depends on the partition's order alone.
	if !moved {
		f.close(l.FeederID, fd, p.time, rt, emit)
		return out, nil
	}
	ids := make([]string, 0, len(p.feeders))
	for id := range p.feeders {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f.close(id, p.feeders[id], p.time, rt, emit)
	}
	return out, nil
}

// Settled closes the windows held by Settle alone: it is the timer's, with
// now on the broker's clock, so a stream that pauses still closes its
// first windows. It returns how many it closed.
func (f *Feeders) Settled(now time.Time, emit func(Load)) int {
	n := 0
	count := func(l Load) { n++; emit(l) }
	parts := make([]int, 0, len(f.parts))
	for q := range f.parts {
		parts = append(parts, q)
	}
	slices.Sort(parts)
	for _, q := range parts {
		p := f.parts[q]
		ids := make([]string, 0, len(p.feeders))
		for id, fd := range p.feeders {
			if len(fd.open) > 0 {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			f.close(id, p.feeders[id], p.time, now.UnixNano(), count)
		}
	}
	return n
}

// close closes fd's windows, oldest first, while they may close; rt is
// the record time of the record read (0: unknown).
func (f *Feeders) close(id string, fd *feeder, now, rt int64, emit func(Load)) {
	if len(fd.open) == 0 {
		return
	}
	settled := rt == 0 || fd.since == 0 || rt-fd.since >= int64(f.cfg.Settle)
	ends := make([]int64, 0, len(fd.open))
	for e := range fd.open {
		ends = append(ends, e)
	}
	slices.Sort(ends)
	wait, horizon := int64(f.cfg.Wait/time.Second), int64(f.cfg.ExpectedHorizon/time.Second)
	for _, e := range ends {
		// Complete counts only once a later window was read on the
		// partition: the transformers of one rapids partition publish a
		// window together, and the first of them must not close it alone.
		if now < e+wait && (!settled || now <= e || !f.complete(fd, e, horizon)) {
			break
		}
		emit(f.sum(id, fd.open[e]))
		delete(fd.open, e)
		fd.closed = e
	}
	// Forget transformers no window can expect any more.
	for tid, ts := range fd.trafos {
		if max(ts.last, ts.reporting) < fd.closed-horizon-wait {
			delete(fd.trafos, tid)
		}
	}
}

// complete reports whether every transformer expected in fd's window ending
// at e has reported it or a later one.
func (f *Feeders) complete(fd *feeder, e, horizon int64) bool {
	for _, ts := range fd.trafos {
		ref := ts.reporting
		if ref == 0 {
			ref = ts.first // reported only silent windows so far
		}
		if ref >= e-horizon && ts.last < e {
			return false
		}
	}
	return true
}

// sum is the feeder window of its transformers' windows ls (sorted by id,
// so the floating-point sums are the same whatever their arrival order).
func (f *Feeders) sum(id string, ls []Load) Load {
	out := Load{Level: Feeder, ID: id, FeederID: id, Start: ls[0].Start, End: ls[0].End}
	var vs float64
	var vn int
	for _, l := range ls {
		out.LoadKW += l.LoadKW
		out.EnergyWh += l.EnergyWh
		out.MetersReporting += l.MetersReporting
		out.MetersExpected += l.MetersExpected
		out.Reads += l.Reads
		if !l.HasVoltage {
			continue
		}
		if !out.HasVoltage {
			out.VoltageMin, out.VoltageMax, out.HasVoltage = l.VoltageMin, l.VoltageMax, true
		}
		out.VoltageMin, out.VoltageMax = min(out.VoltageMin, l.VoltageMin), max(out.VoltageMax, l.VoltageMax)
		// The payload has no read count: weigh each transformer's mean by
		// its meters reporting (exact when a meter reads once a window).
		w := max(l.MetersReporting, 1)
		vs += l.VoltageAvg * float64(w)
		vn += w
	}
	if vn > 0 {
		out.VoltageAvg = vs / float64(vn)
	}
	return out
}

// Open returns how many feeder windows wait, for tests and metrics.
func (f *Feeders) Open() int {
	n := 0
	for _, p := range f.parts {
		for _, fd := range p.feeders {
			n += len(fd.open)
		}
	}
	return n
}

// loadOf returns the Load of a feeder.load.v1 payload's figures.
func loadOf(level, id, feederID string, start, end time.Time, loadKW, energyKWh float64, vmin, vmax, vavg *float64, reporting, expected int) Load {
	l := Load{Level: level, ID: id, FeederID: feederID, Start: start.UTC(), End: end.UTC(), LoadKW: loadKW,
		EnergyWh: int64(math.Round(energyKWh * 1000)), MetersReporting: reporting, MetersExpected: expected}
	if vmin != nil && vmax != nil && vavg != nil {
		l.VoltageMin, l.VoltageMax, l.VoltageAvg, l.HasVoltage = *vmin, *vmax, *vavg, true
	}
	return l
}
