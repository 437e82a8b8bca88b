package simulator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// FaultKind names a fault the simulator can inject.
type FaultKind string

// The faults. Rate-based kinds apply to each matching reading independently
// with probability Rate (deterministically, from the seed).
const (
	// FaultMissing drops reads at Rate; the register keeps accumulating.
	FaultMissing FaultKind = "missing"
	// FaultOutage: the target loses supply from From to To. Reads taken
	// strictly between From and To are not sent; the intervals inside the
	// window consume nothing; the first read at or after To carries
	// FlagPowerFail. From is rounded down and To up to the read interval.
	FaultOutage FaultKind = "outage"
	// FaultStuck freezes the register the target reports at the value of
	// its first read in the window; the true register keeps counting and reappears
	// (a jump) when the fault ends. Demand and voltage stay true.
	FaultStuck FaultKind = "stuck"
	// FaultClockSkew adds Skew to read_at of the target's reads.
	FaultClockSkew FaultKind = "clock_skew"
	// FaultDuplicate sends reads twice (as two events) at Rate.
	FaultDuplicate FaultKind = "duplicate"
	// FaultOutOfOrder holds reads back at Rate to the collector's next
	// upload, after the meter's next read.
	FaultOutOfOrder FaultKind = "out_of_order"
	// FaultMalformed sends, at Rate, a corrupt record (bytes that are not
	// JSON) in addition to the good read.
	FaultMalformed FaultKind = "malformed"
)

// FaultKinds lists every kind, for flag parsing and documentation.
var faultKinds = []FaultKind{FaultMissing, FaultOutage, FaultStuck, FaultClockSkew, FaultDuplicate, FaultOutOfOrder, FaultMalformed}

// FaultKinds returns every fault kind.
func FaultKinds() []FaultKind { return slices.Clone(faultKinds) }

func (k FaultKind) rated() bool {
	switch k {
	case FaultMissing, FaultDuplicate, FaultOutOfOrder, FaultMalformed:
		return true
	}
	return false
}

// Fault is one injected fault.
type Fault struct {
	Kind FaultKind
	// Target is a meter, transformer, feeder, substation or collector ID;
	// empty means the whole fleet.
	Target string
	// Rate is the probability per reading for missing, duplicate,
	// out_of_order and malformed (0 < Rate ≤ 1). Ignored by other kinds.
	Rate float64
	// From and To bound the fault in grid time, [From, To). Zero From means
	// from the start; zero To means for ever.
	From, To time.Time
	// Skew is the clock offset of a clock_skew fault.
	Skew time.Duration
}

func (f Fault) String() string {
	s := string(f.Kind)
	if f.Target != "" {
		s += " on " + f.Target
	} else {
		s += " on the fleet"
	}
	if f.Kind.rated() {
		s += fmt.Sprintf(" at rate %g", f.Rate)
	}
	if f.Kind == FaultClockSkew {
		s += " by " + f.Skew.String()
	}
	if !f.From.IsZero() {
		s += " from " + f.From.UTC().Format(time.RFC3339)
	}
	if !f.To.IsZero() {
		s += " to " + f.To.UTC().Format(time.RFC3339)
	}
	return s
}

// ErrInvalidScenario is wrapped by every scenario and fault error.
var ErrInvalidScenario = errors.New("invalid scenario")

// Validate checks the fault on its own (not its target: see Scenario.Validate).
func (f Fault) Validate() error {
	if !slices.Contains(faultKinds, f.Kind) {
		return fmt.Errorf("%w: unknown fault kind %q (want one of %v)", ErrInvalidScenario, f.Kind, faultKinds)
	}
	if f.Kind.rated() && (f.Rate <= 0 || f.Rate > 1 || math.IsNaN(f.Rate)) {
		return fmt.Errorf("%w: %s rate %g: want 0 < rate <= 1", ErrInvalidScenario, f.Kind, f.Rate)
	}
	if f.Kind == FaultClockSkew && f.Skew == 0 {
		return fmt.Errorf("%w: clock_skew needs a non-zero skew", ErrInvalidScenario)
	}
	if f.Kind == FaultOutage && (f.From.IsZero() || f.To.IsZero()) {
		return fmt.Errorf("%w: an outage needs both from and to", ErrInvalidScenario)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return fmt.Errorf("%w: %s: to %s is not after from %s", ErrInvalidScenario, f.Kind, f.To, f.From)
	}
	return nil
}

// Scenario is what happens to a fleet: when it starts, how often meters
// read, how collectors upload, and the faults.
type Scenario struct {
	// Start is the grid time of the first interval boundary; it is
	// truncated to Interval. The first read is at Start+Interval. The
	// registers hold Meter.InitialRegisterWh at Start.
	Start time.Time
	// Interval between reads. It must divide one hour. Default 15m.
	Interval time.Duration
	// MaxUploadDelay bounds the random delay after a read at which its
	// collector uploads it; it must be shorter than Interval. Default 5m.
	MaxUploadDelay time.Duration
	// Faults injected from the start.
	Faults []Fault
}

func (sc Scenario) withDefaults() Scenario {
	if sc.Interval == 0 {
		sc.Interval = 15 * time.Minute
	}
	if sc.MaxUploadDelay == 0 {
		sc.MaxUploadDelay = 5 * time.Minute
	}
	if sc.MaxUploadDelay < 0 {
		sc.MaxUploadDelay = 0
	}
	sc.Start = sc.Start.UTC().Truncate(sc.Interval)
	return sc
}

// Validate checks the scenario against the fleet.
func (sc Scenario) Validate(f *Fleet) error {
	sc = sc.withDefaults()
	if sc.Start.IsZero() {
		return fmt.Errorf("%w: no start time", ErrInvalidScenario)
	}
	if sc.Interval < time.Second || sc.Interval%time.Second != 0 || time.Hour%sc.Interval != 0 {
		return fmt.Errorf("%w: interval %s: want whole seconds dividing one hour (e.g. 5m, 15m, 1h)", ErrInvalidScenario, sc.Interval)
	}
	if sc.MaxUploadDelay >= sc.Interval {
		return fmt.Errorf("%w: max upload delay %s: want shorter than the interval %s", ErrInvalidScenario, sc.MaxUploadDelay, sc.Interval)
	}
	for _, ft := range sc.Faults {
		if err := ft.Validate(); err != nil {
			return err
		}
		if ft.Target != "" {
			if _, ok := f.Lookup(ft.Target); !ok {
				return fmt.Errorf("%w: %s: unknown target %q", ErrInvalidScenario, ft.Kind, ft.Target)
			}
		}
	}
	return nil
}

// compiled is a fault resolved against a fleet: a meter range and unix
// second bounds.
type compiled struct {
	Fault
	lo, hi   int   // meter indexes [lo, hi)
	from, to int64 // unix seconds [from, to); outages aligned to the interval
}

func compile(f *Fleet, ft Fault, sec int64) (compiled, error) {
	c := compiled{Fault: ft, lo: 0, hi: f.Len(), from: math.MinInt64, to: math.MaxInt64}
	if ft.Target != "" {
		n, ok := f.Lookup(ft.Target)
		if !ok {
			return c, fmt.Errorf("%w: %s: unknown target %q", ErrInvalidScenario, ft.Kind, ft.Target)
		}
		c.lo, c.hi = n.First, n.First+n.Count
	}
	if !ft.From.IsZero() {
		c.from = ft.From.Unix()
	}
	if !ft.To.IsZero() {
		c.to = ft.To.Unix()
	}
	if ft.Kind == FaultOutage {
		c.from = floorDiv(c.from, sec) * sec
		c.to = -floorDiv(-c.to, sec) * sec
	}
	return c, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (c *compiled) covers(m int) bool { return m >= c.lo && m < c.hi }

// activeAt reports whether a non-outage fault applies to a read at e.
func (c *compiled) activeAt(e int64) bool { return e >= c.from && e < c.to }

// outage effects of a read at e (interval (e-sec, e]).
func (c *compiled) dark(e, sec int64) bool    { return c.from <= e-sec && e <= c.to }
func (c *compiled) silent(e int64) bool       { return c.from < e && e < c.to }
func (c *compiled) restored(e int64) bool     { return e == c.to }
func (c *compiled) touches(e, sec int64) bool { return e > c.from && e-sec <= c.to }

// Model is a fleet under a scenario's outages: the physics, without the
// faults that only disturb delivery. It answers what the meters truly
// consumed, exactly, so a test can compare a pipeline's output with it.
// A Model is immutable and safe for concurrent use.
type Model struct {
	fleet   *Fleet
	sc      Scenario
	sec     int64
	start   int64
	outages []compiled
}

// NewModel validates the scenario against the fleet.
func NewModel(f *Fleet, sc Scenario) (*Model, error) {
	if err := sc.Validate(f); err != nil {
		return nil, err
	}
	sc = sc.withDefaults()
	m := &Model{fleet: f, sc: sc, sec: int64(sc.Interval / time.Second), start: sc.Start.Unix()}
	for _, ft := range sc.Faults {
		if ft.Kind != FaultOutage {
			continue
		}
		c, err := compile(f, ft, m.sec)
		if err != nil {
			return nil, err
		}
		m.outages = append(m.outages, c)
	}
	return m, nil
}

// Fleet returns the model's fleet.
func (m *Model) Fleet() *Fleet { return m.fleet }

// Scenario returns the scenario with defaults applied (Start truncated).
func (m *Model) Scenario() Scenario { return m.sc }

// energy returns meter i's true energy in the interval ending at e, and its
// demand in kW, with the model's outages applied.
func (m *Model) energy(i int, e int64, outages []compiled) (wh int64, kw float64) {
	for k := range outages {
		if outages[k].covers(i) && outages[k].dark(e, m.sec) {
			return 0, 0
		}
	}
	kw = m.fleet.demandKW(i, e, m.sec)
	return energyWh(kw, m.sec), kw
}

// RegisterWh returns meter id's true register at grid time t (truncated to
// the interval; not before Start), in Wh.
func (m *Model) RegisterWh(id string, t time.Time) (int64, error) {
	i, ok := m.fleet.meterIndex(id)
	if !ok {
		return 0, fmt.Errorf("%w: unknown meter %q", ErrInvalidScenario, id)
	}
	end := floorDiv(t.Unix(), m.sec) * m.sec
	if end < m.start {
		return 0, fmt.Errorf("%w: %s is before the scenario's start %s", ErrInvalidScenario, t, m.sc.Start)
	}
	reg := m.fleet.meters[i].InitialRegisterWh
	for e := m.start + m.sec; e <= end; e += m.sec {
		wh, _ := m.energy(i, e, m.outages)
		reg += wh
	}
	return reg, nil
}

// UsageWh returns meter id's true consumption between grid times from and
// to (both truncated to the interval): RegisterWh(to) − RegisterWh(from).
func (m *Model) UsageWh(id string, from, to time.Time) (int64, error) {
	a, err := m.RegisterWh(id, from)
	if err != nil {
		return 0, err
	}
	b, err := m.RegisterWh(id, to)
	if err != nil {
		return 0, err
	}
	return b - a, nil
}

// HourlyUsage is one meter's consumption in one clock hour.
type HourlyUsage struct {
	MeterID string
	// Hour is the start of the hour [Hour, Hour+1h), UTC.
	Hour time.Time
	// EnergyWh is RegisterWh(Hour+1h) − RegisterWh(Hour): the sum of the
	// energy of the reads with read_at in (Hour, Hour+1h].
	EnergyWh int64
}

// KWh returns the energy in kWh (3 decimals, exact in decimal).
func (u HourlyUsage) KWh() float64 { return float64(u.EnergyWh) / 1000 }

// HourlyUsage returns every meter's true consumption per clock hour for the
// hours starting in [from, to), from ≥ Start, sorted by meter then hour.
//
// Attribution rule: a read at read_at r covers the interval (r−Interval, r]
// and counts in the hour that contains r−Interval. Equivalently the hour's
// usage is the register at its end minus the register at its start.
func (m *Model) HourlyUsage(from, to time.Time) ([]HourlyUsage, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC().Truncate(time.Hour)
	if from.Unix() < m.start {
		return nil, fmt.Errorf("%w: hour %s starts before the scenario's start %s", ErrInvalidScenario, from, m.sc.Start)
	}
	hours := int(to.Sub(from) / time.Hour)
	if hours <= 0 {
		return nil, nil
	}
	out := make([]HourlyUsage, 0, hours*m.fleet.Len())
	f0, t0 := from.Unix(), to.Unix()
	for i := range m.fleet.meters {
		id := m.fleet.meters[i].ID
		base := len(out)
		for h := range hours {
			out = append(out, HourlyUsage{MeterID: id, Hour: from.Add(time.Duration(h) * time.Hour)})
		}
		for e := f0 + m.sec; e <= t0; e += m.sec {
			wh, _ := m.energy(i, e, m.outages)
			out[base+int((e-m.sec-f0)/3600)].EnergyWh += wh
		}
	}
	return out, nil
}

// Silent reports whether meter id sends no read at grid time t because of
// an outage of the scenario.
func (m *Model) Silent(id string, t time.Time) bool {
	i, ok := m.fleet.meterIndex(id)
	if !ok {
		return false
	}
	for k := range m.outages {
		if m.outages[k].covers(i) && m.outages[k].silent(t.Unix()) {
			return true
		}
	}
	return false
}
