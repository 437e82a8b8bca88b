package feederagg

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/watershed-grid/watershed/rivers/eventtime"
)

// ErrInvalidRead is wrapped by Observe's errors: the read cannot be used.
// Such reads are permanent failures: dead-letter them.
var ErrInvalidRead = errors.New("feederagg: invalid read")

// Levels, as in feeder.load.v1.
const (
	Transformer = "transformer"
	Feeder      = "feeder"
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
	VoltageV  float64
	// Partition is the rapids partition the read came from: a
	// transformer's windows close on its own partition's read times
	// (Transformers).
	Partition int
	// Behind is how many records of the partition followed this one when
	// it was fetched (rivers.Delivery.Behind): a partition is idle only
	// when it was read to its end.
	Behind int64
	// RecordTime is the record's broker timestamp (rivers.Delivery.RecordTime);
	// zero when unknown.
	RecordTime time.Time
}

// Load is one transformer's or feeder's window: a feeder.load.v1.
type Load struct {
	Level    string // Transformer or Feeder
	ID       string
	FeederID string
	// The window [Start, End) holds the reads with read_at in (Start, End].
	Start, End time.Time
	// LoadKW is the sum over reporting meters of their time-weighted
	// average demand in the window.
	LoadKW float64
	// EnergyWh is the sum over meters of register(End) - register(Start),
	// each register the meter's latest read at or before the instant.
	EnergyWh int64
	// Voltage over the window's reads; HasVoltage is false without reads.
	VoltageMin, VoltageMax, VoltageAvg float64
	HasVoltage                         bool
	MetersReporting                    int
	// MetersExpected: meters seen under the element within the expected
	// horizon before the window's end.
	MetersExpected int
	Reads          int
}

// Outcome classifies a read.
type Outcome int

const (
	Accepted    Outcome = iota // stored for its window
	Duplicate                  // same meter and read_at as a stored read
	TooLate                    // its window is closed: dropped, so energy is never counted twice
	Implausible                // too far ahead of the watermark (a wrong clock)
)

var outcomeNames = [...]string{"accepted", "duplicate", "too_late", "implausible"}

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
	// end now (rivers.Service.AtEnd): a silent partition is idle only then
	// (Transformers.CloseIdle). Nil: the evidence of its last record's
	// fetch alone.
	AtEnd func(partition int) bool

	Window          time.Duration
	Lateness        time.Duration
	ExpectedHorizon time.Duration
	MaxClockSkew    time.Duration
	SkewConfirm     int
	IdleAfter       time.Duration
}

type read struct {
	t      int64
	wh     int64
	kw, v  float64
	ivSecs int64
}

type meter struct {
	id                  string
	trafo               *trafo
	firstSeen, lastSeen int64
	reads               []read // sorted by t, unique
}

type trafo struct {
	id, feeder string
	meters     []*meter
}

// Aggregator computes the load per transformer per window in event time
// over the reads of one rapids partition: a window closes when the
// partition's watermark (its latest plausible read_at) passes its end by
// the lateness. Figures are computed at close from each meter's recent
// reads, so duplicates and out-of-order reads within the lateness change
// nothing. Not safe for concurrent use.
type Aggregator struct {
	cfg    AggregatorConfig
	wm     *eventtime.Watermark
	meters map[string]*meter
	trafos map[string]*trafo
	closed int64 // end of the last closed window (unix); 0 before the first read
	floor  int64 // event time an idle partition may close up to (CloseIdle); unix
}

// NewAggregator returns an empty aggregator.
func NewAggregator(cfg AggregatorConfig) *Aggregator {
	d := DefaultConfig()
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.Lateness < 0 {
		cfg.Lateness = d.Lateness
	}
	if cfg.ExpectedHorizon <= 0 {
		cfg.ExpectedHorizon = d.ExpectedHorizon
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
	return &Aggregator{
		cfg: cfg,
		// One partition: its own reads alone move it (idleness is
		// Transformers' to judge, over partitions).
		wm:     eventtime.New(eventtime.Config{MaxClockSkew: cfg.MaxClockSkew, SkewConfirm: cfg.SkewConfirm, IdleAfter: -1}),
		meters: make(map[string]*meter),
		trafos: make(map[string]*trafo),
	}
}

// Watermark returns the event-time watermark (zero before the first read).
func (a *Aggregator) Watermark() time.Time {
	return a.wm.Max().Truncate(time.Second)
}

// LowWatermark returns the watermark windows close on: the partition's
// latest plausible read_at (zero before the first read).
func (a *Aggregator) LowWatermark() time.Time { return a.wm.Value() }

func (a *Aggregator) win() int64 { return int64(a.cfg.Window / time.Second) }

// windowEnd returns the end of the window a read at t belongs to.
func (a *Aggregator) windowEnd(t int64) int64 { w := a.win(); return (t + w - 1) / w * w }

// Observe stores one read.
func (a *Aggregator) Observe(r Read) (Outcome, error) {
	iv := int64(r.Interval / time.Second)
	switch {
	case r.MeterID == "" || r.TransformerID == "":
		return 0, fmt.Errorf("%w: no meter or transformer id", ErrInvalidRead)
	case r.ReadAt.IsZero() || r.ReadAt.Unix() <= 0:
		return 0, fmt.Errorf("%w: meter %s: no read time", ErrInvalidRead, r.MeterID)
	case iv < 1 || iv > 86400:
		return 0, fmt.Errorf("%w: meter %s: interval %v out of range 1s..24h", ErrInvalidRead, r.MeterID, r.Interval)
	case math.IsNaN(r.EnergyKWh) || math.IsNaN(r.DemandKW) || math.IsNaN(r.VoltageV) || r.EnergyKWh < 0 || r.VoltageV < 0:
		return 0, fmt.Errorf("%w: meter %s: a value out of range", ErrInvalidRead, r.MeterID)
	}
	t := r.ReadAt.Unix()
	if a.closed != 0 && a.windowEnd(t) <= a.closed {
		return TooLate, nil
	}
	if !a.wm.Observe(0, r.ReadAt, r.Behind, r.RecordTime) {
		return Implausible, nil
	}
	if a.closed == 0 {
		// Leave room for reads within the lateness before the first one.
		late := (int64(a.cfg.Lateness/time.Second) + a.win() - 1) / a.win() * a.win()
		a.closed = a.windowEnd(t) - a.win() - late
	}
	m := a.meters[r.MeterID]
	if m == nil {
		m = &meter{id: r.MeterID, firstSeen: t}
		a.meters[r.MeterID] = m
	}
	if m.trafo == nil || m.trafo.id != r.TransformerID {
		if m.trafo != nil {
			m.trafo.meters = slices.DeleteFunc(m.trafo.meters, func(x *meter) bool { return x == m })
		}
		tr := a.trafos[r.TransformerID]
		if tr == nil {
			tr = &trafo{id: r.TransformerID}
			a.trafos[r.TransformerID] = tr
		}
		// By meter id, not arrival: sums in the same order whatever the
		// order of the reads, so a window's figures are the same to the
		// last bit after a pause or a restart.
		i, _ := slices.BinarySearchFunc(tr.meters, m.id, func(x *meter, id string) int { return cmp.Compare(x.id, id) })
		tr.meters = slices.Insert(tr.meters, i, m)
		m.trafo = tr
	}
	if r.FeederID != "" {
		m.trafo.feeder = r.FeederID
	}
	m.firstSeen, m.lastSeen = min(m.firstSeen, t), max(m.lastSeen, t)
	i, found := slices.BinarySearchFunc(m.reads, t, func(x read, t int64) int { return cmp.Compare(x.t, t) })
	if found {
		return Duplicate, nil
	}
	m.reads = slices.Insert(m.reads, i, read{t: t, wh: int64(math.Round(r.EnergyKWh * 1000)), kw: r.DemandKW, v: r.VoltageV, ivSecs: iv})
	return Accepted, nil
}

// Advance closes every window whose end the watermark has passed by the
// lateness and emits, per window, one Load per transformer with expected
// meters (sorted by id). It returns how many windows it closed. After a
// jump of the watermark it closes at most a day of windows.
func (a *Aggregator) Advance(emit func(Load)) int {
	limit := max(a.wm.Value().Unix(), a.floor) - int64(a.cfg.Lateness/time.Second)
	w := a.win()
	if a.closed == 0 || limit < a.closed+w {
		return 0
	}
	if maxWindows := int64(86400) / w; (limit-a.closed)/w > maxWindows {
		a.closed = limit/w*w - maxWindows*w
	}
	n := 0
	for e := a.closed + w; e <= limit; e += w {
		a.closeWindow(e-w, e, emit)
		a.closed = e
		n++
	}
	a.prune()
	return n
}

func (a *Aggregator) closeWindow(s, e int64, emit func(Load)) {
	horizon := e - int64(a.cfg.ExpectedHorizon/time.Second)
	ids := make([]string, 0, len(a.trafos))
	for id := range a.trafos {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		tr := a.trafos[id]
		l := Load{Level: Transformer, ID: id, FeederID: tr.feeder,
			Start: time.Unix(s, 0).UTC(), End: time.Unix(e, 0).UTC()}
		var vs float64
		for _, m := range tr.meters {
			if m.firstSeen > e || m.lastSeen < horizon {
				continue
			}
			l.MetersExpected++
			a.addMeter(&l, &vs, m, s, e)
		}
		if l.MetersExpected == 0 {
			continue
		}
		if l.Reads > 0 {
			l.VoltageAvg = vs / float64(l.Reads)
		}
		emit(l)
	}
}

// addMeter adds meter m's reads in (s, e] to l.
func (a *Aggregator) addMeter(l *Load, vs *float64, m *meter, s, e int64) {
	lo, _ := slices.BinarySearchFunc(m.reads, s+1, func(x read, t int64) int { return cmp.Compare(x.t, t) })
	hi, _ := slices.BinarySearchFunc(m.reads, e+1, func(x read, t int64) int { return cmp.Compare(x.t, t) })
	if hi == lo {
		return
	}
	l.MetersReporting++
	w := float64(e - s)
	for _, r := range m.reads[lo:hi] {
		l.LoadKW += r.kw * float64(min(r.ivSecs, e-s)) / w
		if !l.HasVoltage {
			l.VoltageMin, l.VoltageMax, l.HasVoltage = r.v, r.v, true
		}
		l.VoltageMin, l.VoltageMax = min(l.VoltageMin, r.v), max(l.VoltageMax, r.v)
		*vs += r.v
		l.Reads++
	}
	if lo > 0 {
		l.EnergyWh += max(m.reads[hi-1].wh-m.reads[lo-1].wh, 0)
	}
}

// prune forgets reads no open window needs (keeping each meter's latest
// read at or before the last closed end, the next baseline) and meters not
// seen within the expected horizon.
func (a *Aggregator) prune() {
	horizon := a.closed - int64(a.cfg.ExpectedHorizon/time.Second)
	for id, m := range a.meters {
		if m.lastSeen < horizon {
			m.trafo.meters = slices.DeleteFunc(m.trafo.meters, func(x *meter) bool { return x == m })
			if len(m.trafo.meters) == 0 {
				delete(a.trafos, m.trafo.id)
			}
			delete(a.meters, id)
			continue
		}
		i, _ := slices.BinarySearchFunc(m.reads, a.closed+1, func(x read, t int64) int { return cmp.Compare(x.t, t) })
		if i > 1 {
			m.reads = slices.Delete(m.reads, 0, i-1)
		}
	}
}
