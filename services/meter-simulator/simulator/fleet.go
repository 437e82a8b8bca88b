package simulator

import (
	"errors"
	"fmt"
	"math"
)

// FleetConfig sizes the simulated grid. The zero value of a field means its
// default (see DefaultFleetConfig).
type FleetConfig struct {
	// Seed makes the fleet and every value it generates reproducible.
	// Default 1.
	Seed uint64
	// Meters is the number of meters. Default 10,000.
	Meters int
	// MetersPerTransformer. Default 20.
	MetersPerTransformer int
	// TransformersPerFeeder. Default 50.
	TransformersPerFeeder int
	// FeedersPerSubstation. Default 8.
	FeedersPerSubstation int
	// TransformersPerCollector: a collector (field-area network concentrator)
	// uploads the reads of whole transformers in one burst. Default 10
	// (200 meters per collector).
	TransformersPerCollector int
	// NominalVoltage in volts. Default 230.
	NominalVoltage float64
}

// DefaultFleetConfig returns the default fleet: 10,000 meters, 20 per
// transformer, 50 transformers per feeder, 8 feeders per substation, 10
// transformers per collector, 230 V.
func DefaultFleetConfig() FleetConfig {
	return FleetConfig{
		Seed:                     1,
		Meters:                   10_000,
		MetersPerTransformer:     20,
		TransformersPerFeeder:    50,
		FeedersPerSubstation:     8,
		TransformersPerCollector: 10,
		NominalVoltage:           230,
	}
}

func (c FleetConfig) withDefaults() FleetConfig {
	d := DefaultFleetConfig()
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Meters == 0 {
		c.Meters = d.Meters
	}
	if c.MetersPerTransformer == 0 {
		c.MetersPerTransformer = d.MetersPerTransformer
	}
	if c.TransformersPerFeeder == 0 {
		c.TransformersPerFeeder = d.TransformersPerFeeder
	}
	if c.FeedersPerSubstation == 0 {
		c.FeedersPerSubstation = d.FeedersPerSubstation
	}
	if c.TransformersPerCollector == 0 {
		c.TransformersPerCollector = d.TransformersPerCollector
	}
	if c.NominalVoltage == 0 {
		c.NominalVoltage = d.NominalVoltage
	}
	return c
}

// ErrInvalidFleet is wrapped by every fleet configuration error.
var ErrInvalidFleet = errors.New("invalid fleet")

// Validate reports the first out-of-range field, after defaults.
func (c FleetConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Meters < 1 || c.Meters > 100_000_000:
		return fmt.Errorf("%w: meters %d: want 1..100000000", ErrInvalidFleet, c.Meters)
	case c.MetersPerTransformer < 1:
		return fmt.Errorf("%w: meters per transformer %d: want >= 1", ErrInvalidFleet, c.MetersPerTransformer)
	case c.TransformersPerFeeder < 1:
		return fmt.Errorf("%w: transformers per feeder %d: want >= 1", ErrInvalidFleet, c.TransformersPerFeeder)
	case c.FeedersPerSubstation < 1:
		return fmt.Errorf("%w: feeders per substation %d: want >= 1", ErrInvalidFleet, c.FeedersPerSubstation)
	case c.TransformersPerCollector < 1:
		return fmt.Errorf("%w: transformers per collector %d: want >= 1", ErrInvalidFleet, c.TransformersPerCollector)
	case c.NominalVoltage < 100 || c.NominalVoltage > 480:
		return fmt.Errorf("%w: nominal voltage %g: want 100..480", ErrInvalidFleet, c.NominalVoltage)
	}
	return nil
}

// Meter is one premise's meter and its fixed load parameters.
type Meter struct {
	ID            string
	TransformerID string
	FeederID      string
	SubstationID  string
	CollectorID   string

	// Index is the meter's position in the fleet (0-based).
	Index int

	// InitialRegisterWh is the register at the scenario's start, in Wh.
	InitialRegisterWh int64

	baseKW   float64 // always-on load
	scaleKW  float64 // multiplier of the shared profile
	shiftMin int     // the premise's habits, minutes earlier (<0) or later
	noise    float64 // relative noise amplitude
	dropV    float64 // volts lost on the service cable per kW
}

// Node is a transformer, feeder, substation or collector: an ID and the
// contiguous range of meter indexes [First, First+Count) beneath it.
type Node struct {
	ID    string
	First int
	Count int
}

// Fleet is a deterministic simulated grid: substations → feeders →
// transformers → meters, plus the collectors that upload their reads.
// Meters under one node are contiguous, so every node is an index range.
// A Fleet is immutable and safe for concurrent use.
type Fleet struct {
	cfg          FleetConfig
	meters       []Meter
	transformers []Node
	feeders      []Node
	substations  []Node
	collectors   []Node
	byID         map[string]Node // every node and meter, by ID
	txOf         []int32         // meter index → transformer index
	txCapacityKW []float64       // per transformer
	profile      *profiles
}

// NewFleet builds the fleet described by cfg (zero fields take defaults).
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Fleet{cfg: cfg, byID: make(map[string]Node), profile: newProfiles()}
	n := cfg.Meters
	f.meters = make([]Meter, n)
	f.txOf = make([]int32, n)
	f.transformers = ranges(n, cfg.MetersPerTransformer, "TX-%05d")
	f.feeders = ranges(n, cfg.MetersPerTransformer*cfg.TransformersPerFeeder, "FDR-%04d")
	f.substations = ranges(n, cfg.MetersPerTransformer*cfg.TransformersPerFeeder*cfg.FeedersPerSubstation, "SUB-%03d")
	f.collectors = ranges(n, cfg.MetersPerTransformer*cfg.TransformersPerCollector, "COL-%04d")
	for _, group := range [][]Node{f.transformers, f.feeders, f.substations, f.collectors} {
		for _, nd := range group {
			f.byID[nd.ID] = nd
		}
	}
	f.txCapacityKW = make([]float64, len(f.transformers))
	for i := range f.meters {
		t := i / cfg.MetersPerTransformer
		m := &f.meters[i]
		m.Index = i
		m.ID = fmt.Sprintf("MTR-%07d", i+1)
		m.TransformerID = f.transformers[t].ID
		m.FeederID = f.feeders[i/(cfg.MetersPerTransformer*cfg.TransformersPerFeeder)].ID
		m.SubstationID = f.substations[i/(cfg.MetersPerTransformer*cfg.TransformersPerFeeder*cfg.FeedersPerSubstation)].ID
		m.CollectorID = f.collectors[i/(cfg.MetersPerTransformer*cfg.TransformersPerCollector)].ID
		f.txOf[i] = int32(t)
		r := newRand(mix(cfg.Seed, uint64(i), saltMeter))
		m.baseKW = 0.12 + 0.35*r.float()
		m.scaleKW = 0.4 + 2.2*r.float()
		if r.float() < 0.04 { // a small business: bigger, flatter by day
			m.scaleKW *= 4
		}
		m.shiftMin = int(r.float()*120) - 60
		m.noise = 0.08 + 0.17*r.float()
		m.dropV = 0.3 + 0.7*r.float()
		m.InitialRegisterWh = 1_000_000 + int64(r.float()*59_000_000)
		f.byID[m.ID] = Node{ID: m.ID, First: i, Count: 1}
		f.txCapacityKW[t] += m.baseKW + m.scaleKW*1.3
	}
	return f, nil
}

func ranges(total, size int, format string) []Node {
	out := make([]Node, 0, (total+size-1)/size)
	for first := 0; first < total; first += size {
		out = append(out, Node{ID: fmt.Sprintf(format, len(out)+1), First: first, Count: min(size, total-first)})
	}
	return out
}

// Config returns the fleet's configuration with defaults applied.
func (f *Fleet) Config() FleetConfig { return f.cfg }

// Len is the number of meters.
func (f *Fleet) Len() int { return len(f.meters) }

// Meter returns the meter at index i (0 ≤ i < Len()).
func (f *Fleet) Meter(i int) Meter { return f.meters[i] }

// Meters returns a copy of every meter, in index order.
func (f *Fleet) Meters() []Meter { return append([]Meter(nil), f.meters...) }

// Transformers, Feeders, Substations and Collectors return copies of the
// nodes of each level, in index order.
func (f *Fleet) Transformers() []Node { return append([]Node(nil), f.transformers...) }

// Feeders returns the feeders; see Transformers.
func (f *Fleet) Feeders() []Node { return append([]Node(nil), f.feeders...) }

// Substations returns the substations; see Transformers.
func (f *Fleet) Substations() []Node { return append([]Node(nil), f.substations...) }

// Collectors returns the collectors; see Transformers.
func (f *Fleet) Collectors() []Node { return append([]Node(nil), f.collectors...) }

// Lookup finds a meter, transformer, feeder, substation or collector by ID
// and returns the range of meters it covers.
func (f *Fleet) Lookup(id string) (Node, bool) {
	n, ok := f.byID[id]
	return n, ok
}

// MetersOf returns the IDs of the meters under the node with the given ID
// (a meter's own ID gives itself); nil when the ID is unknown.
func (f *Fleet) MetersOf(id string) []string {
	n, ok := f.byID[id]
	if !ok {
		return nil
	}
	out := make([]string, n.Count)
	for i := range out {
		out[i] = f.meters[n.First+i].ID
	}
	return out
}

// meterIndex returns the index of a meter ID.
func (f *Fleet) meterIndex(id string) (int, bool) {
	n, ok := f.byID[id]
	if !ok || n.Count != 1 || f.meters[n.First].ID != id {
		return 0, false
	}
	return n.First, true
}

// roundInt rounds half away from zero to an integer.
func roundInt(x float64) int64 { return int64(math.Round(x)) }
