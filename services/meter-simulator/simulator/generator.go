package simulator

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"
)

// ItemKind says what a collector upload carries for one record.
type ItemKind uint8

// Item kinds.
const (
	// ItemReading is a good read.
	ItemReading ItemKind = iota
	// ItemDuplicate is a read sent again (a second event, same data).
	ItemDuplicate
	// ItemMalformed is a corrupt record: publish Item.AppendValue's bytes.
	ItemMalformed
)

// Item is one record of an upload.
type Item struct {
	Kind    ItemKind
	Reading Reading
	// Late is set when the read was held back by an out_of_order fault.
	Late bool
}

// AppendValue appends the record's value: the reading's JSON, or for a
// malformed item bytes that are not JSON (a truncated document or binary
// noise, chosen by the seed).
func (it Item) AppendValue(buf []byte) []byte {
	if it.Kind != ItemMalformed {
		return it.Reading.AppendJSON(buf)
	}
	if it.Reading.RegisterWh%2 == 0 {
		start := len(buf)
		buf = it.Reading.AppendJSON(buf)
		return buf[:start+(len(buf)-start)/2] // truncated mid-document
	}
	return append(buf, 0xff, 0xfe, 'M', 'T', 'R', 0x00, 0x9c, '{', '"')
}

// Upload is one collector's burst: the reads of its meters for one
// interval, sent together at Due.
type Upload struct {
	CollectorID string
	// ReadAt is the interval boundary the upload reports.
	ReadAt time.Time
	// Due is the grid time at which the collector sends the burst: ReadAt
	// plus a random delay below the scenario's MaxUploadDelay.
	Due   time.Time
	Items []Item
}

// Generator produces a fleet's reads interval by interval, applies the
// faults, and groups them into collector uploads. Inject is safe to call
// concurrently with Next; Next itself is not safe for concurrent use.
type Generator struct {
	model *Model
	sec   int64

	mu     sync.Mutex
	faults []compiled // every fault, including runtime ones
	stats  Stats

	k       int64 // next interval number (read at start + k·sec)
	reg     []int64
	stuck   map[int]int64
	held    [][]Item
	spare   [][]Item
	items   [][]Item
	uploads []Upload
	loadKW  []float64
	dark    []bool

	// lost holds the reads the network lost (missing faults) for the
	// meters to answer a re-read with; kept for memory of grid time.
	lost   map[lostKey]Reading
	memory int64 // seconds
}

// lostKey is a lost read: its meter index and read time (unix seconds).
type lostKey struct {
	meter int
	at    int64
}

// DefaultMeterMemory is how long (grid time) a meter keeps a read the
// network lost, to send it again when asked.
const DefaultMeterMemory = 48 * time.Hour

// Stats counts what a generator produced.
type Stats struct {
	Readings, Duplicates, Malformed, Missing, Silent, Delayed uint64
}

// NewGenerator starts a generator at the scenario's start.
func NewGenerator(m *Model) *Generator {
	g := &Generator{
		model:  m,
		sec:    m.sec,
		k:      1,
		reg:    make([]int64, m.fleet.Len()),
		stuck:  make(map[int]int64),
		lost:   make(map[lostKey]Reading),
		memory: int64(DefaultMeterMemory / time.Second),
	}
	for i := range g.reg {
		g.reg[i] = m.fleet.meters[i].InitialRegisterWh
	}
	for _, ft := range m.sc.Faults {
		c, _ := compile(m.fleet, ft, m.sec) // validated by NewModel
		g.faults = append(g.faults, c)
	}
	n := len(m.fleet.collectors)
	g.held = make([][]Item, n)
	g.spare = make([][]Item, n)
	g.items = make([][]Item, n)
	g.uploads = make([]Upload, 0, n)
	g.loadKW = make([]float64, 0, m.fleet.cfg.MetersPerTransformer)
	g.dark = make([]bool, 0, m.fleet.cfg.MetersPerTransformer)
	return g
}

// Model returns the generator's model.
func (g *Generator) Model() *Model { return g.model }

// Next returns the grid time of the next read the generator will produce.
func (g *Generator) Next() time.Time {
	return time.Unix(g.model.start+g.k*g.sec, 0).UTC()
}

// Stats returns the counts so far.
func (g *Generator) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// Inject adds a fault from now on. An outage's window is used as given
// (rounded to the interval); only intervals not yet generated are affected.
// Faults injected at run time are not part of the Model: a test that needs
// exact expectations scripts its faults in the Scenario.
func (g *Generator) Inject(ft Fault) error {
	if err := ft.Validate(); err != nil {
		return err
	}
	c, err := compile(g.model.fleet, ft, g.sec)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.faults = append(g.faults, c)
	return nil
}

// SetMeterMemory sets how long (grid time) meters keep the reads the
// network lost (default DefaultMeterMemory).
func (g *Generator) SetMeterMemory(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.memory = int64(d / time.Second)
}

// Recall errors: why a meter cannot send a read again.
var (
	// ErrUnknownMeter: no such meter in the fleet.
	ErrUnknownMeter = errors.New("unknown meter")
	// ErrNotRead: the slot is not read yet (read_at not before the
	// generator's next interval).
	ErrNotRead = errors.New("slot not read yet")
	// ErrNotInMemory: the meter does not hold that read: it was delivered
	// (re-reads serve lost reads), not taken (no supply), or is older than
	// the meters' memory.
	ErrNotInMemory = errors.New("read not in the meter's memory")
)

// Recall returns the read of meterID at readAt that the network lost, as
// it would have been sent (same values, flags and read_at), for a re-read
// command.
func (g *Generator) Recall(meterID string, readAt time.Time) (Reading, error) {
	i, ok := g.model.fleet.meterIndex(meterID)
	if !ok {
		return Reading{}, fmt.Errorf("%w %s", ErrUnknownMeter, meterID)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.lost[lostKey{i, readAt.Unix()}]; ok {
		return r, nil
	}
	if !readAt.Before(time.Unix(g.model.start+g.k*g.sec, 0)) {
		return Reading{}, fmt.Errorf("%w: %s at %s", ErrNotRead, meterID, readAt.UTC().Format(time.RFC3339))
	}
	return Reading{}, fmt.Errorf("%w: %s at %s", ErrNotInMemory, meterID, readAt.UTC().Format(time.RFC3339))
}

// Faults returns the faults in force, scripted and injected.
func (g *Generator) Faults() []Fault {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Fault, len(g.faults))
	for i := range g.faults {
		out[i] = g.faults[i].Fault
	}
	return out
}

// Interval generates the next interval and returns its uploads, sorted by
// Due. Reads held back by an out_of_order fault in the previous interval
// ride at the end of their collector's upload. The returned slices are
// reused by the next call.
func (g *Generator) Interval() []Upload {
	g.mu.Lock() // Recall reads k and lost concurrently
	e := g.model.start + g.k*g.sec
	g.k++
	f := g.model.fleet
	seed := f.cfg.Seed

	g.faults = slices.DeleteFunc(g.faults, func(c compiled) bool { return c.to <= e-g.sec })
	if e%3600 == 0 { // hourly: forget the lost reads past the meters' memory
		for k := range g.lost {
			if k.at < e-g.memory {
				delete(g.lost, k)
			}
		}
	}
	faults := g.faults
	var stats Stats
	defer func() {
		g.stats.Readings += stats.Readings
		g.stats.Duplicates += stats.Duplicates
		g.stats.Malformed += stats.Malformed
		g.stats.Missing += stats.Missing
		g.stats.Silent += stats.Silent
		g.stats.Delayed += stats.Delayed
		g.mu.Unlock()
	}()
	var outages, others []compiled
	for _, c := range faults {
		if c.Kind == FaultOutage {
			if c.touches(e, g.sec) {
				outages = append(outages, c)
			}
		} else if c.activeAt(e) || c.Kind == FaultStuck {
			others = append(others, c)
		}
	}

	readAt := time.Unix(e, 0).UTC()
	interval := time.Duration(g.sec) * time.Second
	absK := uint64(e / g.sec)
	mpt := f.cfg.MetersPerTransformer
	g.uploads = g.uploads[:0]
	for c, col := range f.collectors {
		items := g.items[c][:0]
		next := g.spare[c][:0]
		for t := col.First / mpt; t < len(f.transformers) && f.transformers[t].First < col.First+col.Count; t++ {
			tx := f.transformers[t]
			// Demand first: the transformer's load sags everyone's voltage.
			g.loadKW, g.dark = g.loadKW[:0], g.dark[:0]
			load := 0.0
			for i := tx.First; i < tx.First+tx.Count; i++ {
				wh, kw := g.model.energy(i, e, outages)
				g.reg[i] += wh
				g.loadKW = append(g.loadKW, kw)
				g.dark = append(g.dark, wh == 0 && kw == 0)
				load += kw
			}
			for j := range tx.Count {
				i := tx.First + j
				m := &f.meters[i]
				kw := g.loadKW[j]
				r := Reading{
					MeterID: m.ID, TransformerID: m.TransformerID, FeederID: m.FeederID,
					ReadAt: readAt, Interval: interval, RegisterWh: g.reg[i],
				}
				silent := false
				for k := range outages {
					o := &outages[k]
					if o.covers(i) {
						silent = silent || o.silent(e)
						if o.restored(e) {
							r.Flags |= FlagPowerFail
						}
					}
				}
				if silent {
					stats.Silent++
					continue
				}
				if g.dark[j] {
					r.DemandW, r.VoltageDV = 0, int32(roundInt(f.cfg.NominalVoltage*10))
				} else {
					r.DemandW = demandW(energyWh(kw, g.sec), g.sec)
					r.VoltageDV = f.voltageDV(i, kw, load, e, g.sec)
				}
				key := uint64(i)<<32 ^ absK
				missing, dup, late, bad := false, false, false, false
				for k := range others {
					o := &others[k]
					if !o.covers(i) {
						continue
					}
					switch o.Kind {
					case FaultStuck:
						frozen, was := g.stuck[i]
						if !o.activeAt(e) {
							if was && e >= o.to {
								delete(g.stuck, i)
							}
							continue
						}
						if !was {
							frozen = g.reg[i]
							g.stuck[i] = frozen
						}
						r.RegisterWh = frozen
					case FaultClockSkew:
						r.ReadAt = r.ReadAt.Add(o.Skew)
					case FaultMissing:
						missing = missing || chance(o.Rate, seed, key, saltMissing)
					case FaultDuplicate:
						dup = dup || chance(o.Rate, seed, key, saltDuplicate)
					case FaultOutOfOrder:
						late = late || chance(o.Rate, seed, key, saltOutOfOrder)
					case FaultMalformed:
						bad = bad || chance(o.Rate, seed, key, saltMalformed)
					}
				}
				if missing {
					stats.Missing++
					g.lost[lostKey{i, r.ReadAt.Unix()}] = r
					continue
				}
				stats.Readings++
				it := Item{Kind: ItemReading, Reading: r}
				if late {
					stats.Delayed++
					it.Late = true
					next = append(next, it)
				} else {
					items = append(items, it)
				}
				if dup {
					stats.Duplicates++
					it.Kind = ItemDuplicate
					items = append(items, it)
				}
				if bad {
					stats.Malformed++
					it.Kind = ItemMalformed
					items = append(items, it)
				}
			}
		}
		items = append(items, g.held[c]...)
		g.items[c] = items
		g.spare[c], g.held[c] = g.held[c], next
		if len(items) == 0 {
			continue
		}
		delay := time.Duration(unit(mix(seed, uint64(c)<<32^absK, saltDelay)) * float64(g.model.sc.MaxUploadDelay))
		g.uploads = append(g.uploads, Upload{CollectorID: col.ID, ReadAt: readAt, Due: readAt.Add(delay.Truncate(time.Millisecond)), Items: items})
	}
	slices.SortFunc(g.uploads, func(a, b Upload) int { return a.Due.Compare(b.Due) })
	return g.uploads
}

// Flush returns the reads still held back by out_of_order faults, one
// upload per collector, due at the end of the last generated interval. The
// returned slices are reused by the next call to Interval or Flush.
func (g *Generator) Flush() []Upload {
	at := time.Unix(g.model.start+(g.k-1)*g.sec, 0).UTC()
	g.uploads = g.uploads[:0]
	for c, col := range g.model.fleet.collectors {
		if len(g.held[c]) == 0 {
			continue
		}
		g.items[c] = append(g.items[c][:0], g.held[c]...)
		g.held[c] = g.held[c][:0]
		g.uploads = append(g.uploads, Upload{CollectorID: col.ID, ReadAt: at, Due: at, Items: g.items[c]})
	}
	return g.uploads
}

// Skip generates, without returning them, the intervals read before next,
// so that the generator continues at next exactly as if it had produced
// them: registers, stuck registers and the reads held back for the next
// upload are the same. Stats restart at zero. A resumed simulator uses it.
func (g *Generator) Skip(next time.Time) {
	for g.Next().Before(next) {
		g.Interval()
	}
	g.mu.Lock()
	g.stats = Stats{}
	g.mu.Unlock()
}

// Uploads generates every interval with reads up to and including until,
// then the held-back reads, yielding each upload in Due order. An upload is
// valid only until the loop body returns.
func (g *Generator) Uploads(until time.Time) iter.Seq[*Upload] {
	return func(yield func(*Upload) bool) {
		for !g.Next().After(until) {
			ups := g.Interval()
			for i := range ups {
				if !yield(&ups[i]) {
					return
				}
			}
		}
		ups := g.Flush()
		for i := range ups {
			if !yield(&ups[i]) {
				return
			}
		}
	}
}

// String describes the generator's position.
func (g *Generator) String() string {
	return fmt.Sprintf("generator at %s (%d meters)", g.Next().Format(time.RFC3339), g.model.fleet.Len())
}
