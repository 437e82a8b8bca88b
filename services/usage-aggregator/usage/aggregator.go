package usage

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/watershed-grid/watershed/rivers/eventtime"
)

// ErrInvalidRead is wrapped by Observe's errors: the read cannot be used
// (no meter id, no time, an interval or register out of range). Such reads
// are permanent failures: dead-letter them.
var ErrInvalidRead = errors.New("usage: invalid read")

// Period names, as in usage.interval.v1.
const (
	Hour = "hour"
	Day  = "day"
)

// Read is what the aggregator needs from one meter.reading.v1.
type Read struct {
	MeterID       string
	TransformerID string
	FeederID      string
	// ReadAt ends the interval the read covers: (ReadAt-Interval, ReadAt].
	ReadAt    time.Time
	Interval  time.Duration
	EnergyKWh float64 // the register, energy_kwh_total
	DemandKW  float64
	// Partition is the input partition the read came from: periods close
	// on the lowest of the partitions' latest read times.
	Partition int
	// Behind is how many records of the partition followed this one when
	// it was fetched (rivers.Delivery.Behind): a partition is idle only
	// when it was read to its end.
	Behind int64
	// RecordTime is the record's broker timestamp (rivers.Delivery.RecordTime);
	// zero when unknown.
	RecordTime time.Time
}

// Interval is the energy of one meter over one hour or day.
type Interval struct {
	MeterID       string
	TransformerID string
	FeederID      string
	Period        string // Hour or Day
	Start, End    time.Time
	// EnergyWh = RegisterEndWh - RegisterStartWh, exactly (integer Wh).
	EnergyWh      int64
	Reads         int // reads with read_at in (Start, End]
	ReadsExpected int
	MaxDemandKW   float64 // of those reads
	// RegisterStartWh is the latest read at or before Start: a period is
	// only published once such a read is known.
	RegisterStartWh int64
	RegisterEndWh   int64 // the latest read at or before End
	// Revision is 1 for the first publication and grows with each
	// correction caused by a late read.
	Revision int
}

// Outcome classifies a read.
type Outcome int

const (
	Accepted    Outcome = iota // stored: counts in its period
	Corrected                  // stored, and changed closed periods: corrections follow
	Duplicate                  // same meter, read_at and register as a stored read
	Conflict                   // same meter and read_at, another register: the first is kept
	Regression                 // the register would decrease between neighbouring reads
	TooLate                    // older than the correction horizon
	Implausible                // too far ahead of the watermark (a wrong clock)
)

var outcomeNames = [...]string{"accepted", "corrected", "duplicate", "conflict", "regression", "too_late", "implausible"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// AggregatorConfig parameterises an Aggregator; zero fields take the
// defaults of DefaultConfig.
type AggregatorConfig struct {
	// AtEnd tells whether the service has read a rapids partition to its
	// end now (rivers.Service.AtEnd): a quiet partition is idle only then.
	// Nil: the evidence of its last record's fetch alone.
	AtEnd func(partition int) bool
	// Assigned returns the rapids partitions assigned to the service now
	// (rivers.Service.Assigned): one not read yet holds the watermark.
	Assigned func() ([]int, bool)

	Lateness     time.Duration
	Horizon      time.Duration
	MaxClockSkew time.Duration
	SkewConfirm  int
	IdleAfter    time.Duration
	Location     *time.Location
}

type read struct {
	t  int64 // unix seconds
	wh int64
	kw float64
}

type pubKey struct {
	start int64
	day   bool
}

type published struct {
	energy, startWh, endWh int64
	reads                  int
	revision               int
}

type meter struct {
	id, trafo, feeder string
	iv                int64
	reads             []read // sorted by t, unique t
	hourClosed        int64  // hours ending at or before are closed
	dayClosed         int64  // days ending at or before are closed
	pub               map[pubKey]published
	part              int // the input partition of its reads
}

// Aggregator computes each meter's energy per hour and per day from its
// register reads, in event time. A period closes when the watermark (the
// latest plausible read_at) passes its end by the lateness; a read that
// arrives for a closed period within the horizon yields corrections.
// An Aggregator is not safe for concurrent use.
type Aggregator struct {
	cfg    AggregatorConfig
	wm     *eventtime.Watermark
	meters map[string]*meter
	// nextClose is the earliest period end not closed for every meter: a
	// shortcut so Advance does nothing between hour boundaries.
	nextClose int64
}

// NewAggregator returns an empty aggregator.
func NewAggregator(cfg AggregatorConfig) *Aggregator {
	d := DefaultConfig()
	if cfg.Lateness <= 0 {
		cfg.Lateness = d.Lateness
	}
	if cfg.Horizon <= 0 {
		cfg.Horizon = d.Horizon
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = d.MaxClockSkew
	}
	if cfg.SkewConfirm <= 0 {
		cfg.SkewConfirm = d.SkewConfirm
	}
	if cfg.IdleAfter == 0 {
		cfg.IdleAfter = d.IdleAfter
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &Aggregator{
		cfg:    cfg,
		wm:     eventtime.New(eventtime.Config{MaxClockSkew: cfg.MaxClockSkew, SkewConfirm: cfg.SkewConfirm, IdleAfter: cfg.IdleAfter, AtEnd: cfg.AtEnd, Assigned: cfg.Assigned}),
		meters: make(map[string]*meter),
	}
}

// DropPartition forgets the meters of an input partition and the
// partition's watermark: the partition moved to another instance, or its
// history is about to be replayed (rivers.PartitionState).
func (a *Aggregator) DropPartition(p int) {
	for id, m := range a.meters {
		if m.part == p {
			delete(a.meters, id)
		}
	}
	a.wm.Forget(p)
}

// Meters returns how many meters have state.
func (a *Aggregator) Meters() int { return len(a.meters) }

// Watermark returns the event-time watermark (zero before the first read).
func (a *Aggregator) Watermark() time.Time {
	return a.wm.Max().Truncate(time.Second)
}

// LowWatermark returns the watermark periods close on: the lowest over the
// input partitions that are not idle (zero before the first read).
func (a *Aggregator) LowWatermark() time.Time { return a.wm.Value() }

// WhOf converts a register in kWh, as the simulator and meters round it
// (0.001 kWh), to integer Wh.
func WhOf(kwh float64) int64 { return int64(math.Round(kwh * 1000)) }

const hour = 3600

// hourEnd returns the end of the hour a read at t belongs to: the read
// covers (t-interval, t], so a read on the hour ends the previous hour.
func hourEnd(t int64) int64 { return (t + hour - 1) / hour * hour }

// dayBounds returns the local day [start, end) containing instant t (unix).
func (a *Aggregator) dayBounds(t int64) (int64, int64) {
	lt := time.Unix(t, 0).In(a.cfg.Location)
	s := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, a.cfg.Location)
	return s.Unix(), s.AddDate(0, 0, 1).Unix()
}

// dayEnd returns the end of the day a read at t belongs to (reads on
// midnight end the previous day).
func (a *Aggregator) dayEnd(t int64) int64 {
	_, e := a.dayBounds(t - 1)
	return e
}

// Observe stores one read. For a read in an already closed period it
// returns the corrected (or first) intervals of every closed period whose
// figures it changed.
func (a *Aggregator) Observe(r Read) (Outcome, []Interval, error) {
	iv := int64(r.Interval / time.Second)
	wh := WhOf(r.EnergyKWh)
	switch {
	case r.MeterID == "":
		return 0, nil, fmt.Errorf("%w: no meter id", ErrInvalidRead)
	case r.ReadAt.IsZero() || r.ReadAt.Unix() <= 0:
		return 0, nil, fmt.Errorf("%w: meter %s: no read time", ErrInvalidRead, r.MeterID)
	case iv < 1 || iv > 86400:
		return 0, nil, fmt.Errorf("%w: meter %s: interval %v out of range 1s..24h", ErrInvalidRead, r.MeterID, r.Interval)
	case math.IsNaN(r.EnergyKWh) || wh < 0:
		return 0, nil, fmt.Errorf("%w: meter %s: register %v kWh", ErrInvalidRead, r.MeterID, r.EnergyKWh)
	}
	t := r.ReadAt.Unix()
	if mx := a.wm.Max(); !mx.IsZero() && t <= mx.Unix()-int64(a.cfg.Horizon/time.Second) {
		return TooLate, nil, nil
	}
	if !a.wm.Observe(r.Partition, r.ReadAt, r.Behind, r.RecordTime) {
		return Implausible, nil, nil
	}
	m := a.meters[r.MeterID]
	if m == nil {
		// Periods before the meter's first read are never published.
		he := hourEnd(t)
		m = &meter{id: r.MeterID, hourClosed: he - hour, dayClosed: a.dayStart(a.dayEnd(t)), pub: make(map[pubKey]published)}
		a.meters[r.MeterID] = m
		if a.nextClose == 0 || he < a.nextClose {
			a.nextClose = he
		}
	}
	m.trafo, m.feeder, m.iv, m.part = r.TransformerID, r.FeederID, iv, r.Partition
	i, found := slices.BinarySearchFunc(m.reads, t, func(x read, t int64) int { return cmpInt(x.t, t) })
	if found {
		if m.reads[i].wh == wh {
			return Duplicate, nil, nil
		}
		return Conflict, nil, nil
	}
	if (i > 0 && m.reads[i-1].wh > wh) || (i < len(m.reads) && m.reads[i].wh < wh) {
		return Regression, nil, nil
	}
	m.reads = slices.Insert(m.reads, i, read{t: t, wh: wh, kw: r.DemandKW})
	if hourEnd(t) > m.hourClosed {
		return Accepted, nil, nil
	}
	if corr := a.recompute(m, t); len(corr) > 0 {
		return Corrected, corr, nil
	}
	return Accepted, nil, nil
}

// recompute returns the intervals of closed periods at or after the read
// at t whose figures changed.
func (a *Aggregator) recompute(m *meter, t int64) []Interval {
	var out []Interval
	for e := hourEnd(t); e <= m.hourClosed; e += hour {
		if iv, ok := a.republish(m, e-hour, e, false); ok {
			out = append(out, iv)
		}
	}
	for e := a.dayEnd(t); e <= m.dayClosed; e = a.dayEnd(e + 1) {
		if iv, ok := a.republish(m, a.dayStart(e), e, true); ok {
			out = append(out, iv)
		}
	}
	return out
}

func (a *Aggregator) dayStart(end int64) int64 {
	s, _ := a.dayBounds(end - 1)
	return s
}

// republish computes a closed period again and returns it when it differs
// from what was published.
func (a *Aggregator) republish(m *meter, s, e int64, day bool) (Interval, bool) {
	iv, ok := a.compute(m, s, e, day)
	if !ok {
		return Interval{}, false
	}
	k := pubKey{s, day}
	p, had := m.pub[k]
	if had && p.energy == iv.EnergyWh && p.reads == iv.Reads &&
		p.startWh == iv.RegisterStartWh && p.endWh == iv.RegisterEndWh {
		return Interval{}, false
	}
	iv.Revision = p.revision + 1
	m.pub[k] = published{energy: iv.EnergyWh, startWh: iv.RegisterStartWh, endWh: iv.RegisterEndWh,
		reads: iv.Reads, revision: iv.Revision}
	return iv, true
}

// compute returns the interval [s, e) of m, false when it has no read.
func (a *Aggregator) compute(m *meter, s, e int64, day bool) (Interval, bool) {
	// reads[lo:hi] have t in (s, e].
	lo, _ := slices.BinarySearchFunc(m.reads, s+1, func(x read, t int64) int { return cmpInt(x.t, t) })
	hi, _ := slices.BinarySearchFunc(m.reads, e+1, func(x read, t int64) int { return cmpInt(x.t, t) })
	if hi == lo || lo == 0 {
		// No read in the period, or no read at or before its start: the
		// period is not published (its energy cannot be known).
		return Interval{}, false
	}
	iv := Interval{
		MeterID: m.id, TransformerID: m.trafo, FeederID: m.feeder, Period: Hour,
		Start: time.Unix(s, 0).In(a.cfg.Location), End: time.Unix(e, 0).In(a.cfg.Location),
		Reads: hi - lo, ReadsExpected: int(max((e-s)/m.iv, 1)),
		RegisterEndWh: m.reads[hi-1].wh, MaxDemandKW: m.reads[lo].kw,
	}
	if day {
		iv.Period = Day
	} else {
		iv.Start, iv.End = iv.Start.UTC(), iv.End.UTC()
	}
	for _, r := range m.reads[lo:hi] {
		iv.MaxDemandKW = max(iv.MaxDemandKW, r.kw)
	}
	iv.RegisterStartWh = m.reads[lo-1].wh
	iv.EnergyWh = iv.RegisterEndWh - iv.RegisterStartWh
	return iv, true
}

// Advance closes every period whose end the watermark has passed by the
// lateness, calling emit for each one with reads (a period without reads
// is not published: its energy, zero by the attribution rule, is carried
// by the period of the meter's next read). It then forgets reads older
// than the horizon. It returns the number emitted.
func (a *Aggregator) Advance(emit func(Interval)) int {
	limit := a.wm.Value().Unix() - int64(a.cfg.Lateness/time.Second)
	if a.wm.Max().IsZero() || a.nextClose == 0 || limit < a.nextClose {
		return 0
	}
	horizon := a.wm.Max().Unix() - int64(a.cfg.Horizon/time.Second)
	n := 0
	next := int64(math.MaxInt64)
	for _, m := range a.meters {
		first := max(m.hourClosed+hour, hourEnd(horizon))
		for e := first; e <= limit; e += hour {
			if iv, ok := a.republish(m, e-hour, e, false); ok {
				emit(iv)
				n++
			}
			m.hourClosed = e
		}
		for e := a.dayEnd(m.dayClosed + 1); e <= limit; e = a.dayEnd(e + 1) {
			if e > horizon {
				if iv, ok := a.republish(m, a.dayStart(e), e, true); ok {
					emit(iv)
					n++
				}
			}
			m.dayClosed = e
		}
		next = min(next, m.hourClosed+hour)
		a.prune(m, horizon)
	}
	if next != math.MaxInt64 {
		a.nextClose = next
	}
	return n
}

// prune forgets reads older than the horizon except the latest of them
// (the baseline of the next period), and published figures of periods
// that can no longer change.
func (a *Aggregator) prune(m *meter, horizon int64) {
	i, _ := slices.BinarySearchFunc(m.reads, horizon+1, func(x read, t int64) int { return cmpInt(x.t, t) })
	if i > 1 {
		m.reads = slices.Delete(m.reads, 0, i-1)
	}
	for k := range m.pub {
		if k.start < horizon-2*86400 {
			delete(m.pub, k)
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
