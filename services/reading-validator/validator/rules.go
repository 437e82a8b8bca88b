package validator

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// Severity says what a finding means for the read.
type Severity uint8

const (
	// Anomalous: usable but suspicious; published as meter.reading.anomalous.v1.
	Anomalous Severity = iota + 1
	// Rejected: unusable; published as meter.reading.rejected.v1.
	Rejected
)

func (s Severity) String() string {
	switch s {
	case Anomalous:
		return "anomalous"
	case Rejected:
		return "rejected"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Rules, as they appear in the "rule" field of the published events.
const (
	RuleSchema             = "schema"               // rejected: the data breaks meter.reading.v1
	RuleVoltageOutOfRange  = "voltage_out_of_range" // rejected: voltage > MaxVoltageV
	RuleDemandOutOfRange   = "demand_out_of_range"  // rejected: |demand| > MaxDemandKW
	RuleReadAtInFuture     = "read_at_in_future"    // rejected: read_at > reference + MaxClockSkew
	RuleReadAtOutOfRange   = "read_at_out_of_range" // rejected: read_at before 2000 or after 2136
	RuleDuplicate          = "duplicate"            // rejected: this meter's read at this read_at was already seen
	RuleDuplicateConflict  = "duplicate_conflict"   // rejected: same read_at as the latest read, different register
	RuleRegisterDecreased  = "register_decreased"   // rejected: the register runs backwards in read_at order
	RuleOutOfOrder         = "out_of_order"         // anomalous: older than the meter's latest read
	RuleLate               = "late"                 // anomalous: reference − read_at > LateAfter
	RuleRegisterStuck      = "register_stuck"       // anomalous: register did not move under load
	RuleRegisterJump       = "register_jump"        // anomalous: register delta implies demand > DemandSpikeKW
	RuleDemandSpike        = "demand_spike"         // anomalous: |demand| > DemandSpikeKW
	RuleVoltageOutOfBand   = "voltage_out_of_band"  // anomalous: voltage outside [VoltageLowV, VoltageHighV]
	RuleClockInvalid       = "clock_invalid"        // anomalous: the meter flagged its clock
	RuleTamper             = "tamper"               // anomalous: the meter flagged tampering
	RuleReadAtUnaligned    = "read_at_unaligned"    // anomalous: read_at is not on an interval boundary (clock skew)
	RuleIntervalMismatch   = "interval_mismatch"    // anomalous: interval_s differs from the meter's previous reads
	RuleRegisterRolledOver = "register_rollover"    // anomalous: register went back with the register_rollover flag
)

// Finding is one rule a read tripped.
type Finding struct {
	Rule     string
	Severity Severity
	Reason   string
	// Field, Value and Threshold: the property the rule looked at, what it
	// held and the limit it crossed; Field is empty when not applicable.
	Field            string
	Value, Threshold float64
}

// SchemaError is returned by Parse when data is not a valid
// meter.reading.v1 payload. It is permanent.
type SchemaError struct {
	Field  string // JSON property, empty for the document
	Reason string
}

func (e *SchemaError) Error() string {
	if e.Field == "" {
		return "meter.reading.v1: " + e.Reason
	}
	return "meter.reading.v1: " + e.Field + ": " + e.Reason
}

// ErrSchema is matched by every *SchemaError (errors.Is).
var ErrSchema = errors.New("meter.reading.v1 schema violation")

// Is makes errors.Is(err, ErrSchema) true.
func (e *SchemaError) Is(target error) bool { return target == ErrSchema }

// wire mirrors meter.reading.v1 with pointers, to tell absent from zero.
type wire struct {
	MeterID       *string    `json:"meter_id"`
	TransformerID *string    `json:"transformer_id"`
	FeederID      *string    `json:"feeder_id"`
	ReadAt        *time.Time `json:"read_at"`
	IntervalS     *float64   `json:"interval_s"`
	Energy        *float64   `json:"energy_kwh_total"`
	Demand        *float64   `json:"demand_kw"`
	Voltage       *float64   `json:"voltage_v"`
	Flags         []string   `json:"flags"`
}

// Parse decodes and checks a meter.reading.v1 payload against the rules of
// its schema (contracts/schemas/meter.reading.v1.json): required
// properties, types, string lengths, ranges. Unknown properties are
// tolerated (a reader is liberal; producers are held to the closed schema
// by their own tests). Failures are *SchemaError.
func Parse(data []byte) (events.MeterReading, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return events.MeterReading{}, &SchemaError{Field: te.Field, Reason: "want " + jsonKind(te.Type.Kind().String()) + ", got " + te.Value}
		}
		var pe *time.ParseError
		if errors.As(err, &pe) {
			return events.MeterReading{}, &SchemaError{Field: "read_at", Reason: "not an RFC 3339 date-time"}
		}
		return events.MeterReading{}, &SchemaError{Reason: truncate(err.Error(), 200)}
	}
	var r events.MeterReading
	str := func(name string, p *string, dst *string) error {
		switch {
		case p == nil:
			return &SchemaError{Field: name, Reason: "required"}
		case len(*p) < 1 || len(*p) > 128:
			return &SchemaError{Field: name, Reason: "length must be 1..128"}
		}
		*dst = *p
		return nil
	}
	num := func(name string, p *float64, minimum float64) (float64, error) {
		switch {
		case p == nil:
			return 0, &SchemaError{Field: name, Reason: "required"}
		case *p < minimum:
			return 0, &SchemaError{Field: name, Reason: fmt.Sprintf("%g is below the minimum %g", *p, minimum)}
		}
		return *p, nil
	}
	var err error
	if err = str("meter_id", w.MeterID, &r.MeterID); err != nil {
		return r, err
	}
	if err = str("transformer_id", w.TransformerID, &r.TransformerID); err != nil {
		return r, err
	}
	if err = str("feeder_id", w.FeederID, &r.FeederID); err != nil {
		return r, err
	}
	if w.ReadAt == nil {
		return r, &SchemaError{Field: "read_at", Reason: "required"}
	}
	r.ReadAt = *w.ReadAt
	iv, err := num("interval_s", w.IntervalS, 1)
	if err != nil {
		return r, err
	}
	if iv != math.Trunc(iv) || iv > 86400 {
		return r, &SchemaError{Field: "interval_s", Reason: fmt.Sprintf("%g is not a whole number of seconds in 1..86400", iv)}
	}
	r.IntervalSeconds = int(iv)
	if r.EnergyKWhTotal, err = num("energy_kwh_total", w.Energy, 0); err != nil {
		return r, err
	}
	if r.DemandKW, err = num("demand_kw", w.Demand, math.Inf(-1)); err != nil {
		return r, err
	}
	if r.VoltageVolts, err = num("voltage_v", w.Voltage, 0); err != nil {
		return r, err
	}
	if len(w.Flags) > 32 {
		return r, &SchemaError{Field: "flags", Reason: "more than 32 items"}
	}
	for _, f := range w.Flags {
		if len(f) < 1 || len(f) > 64 {
			return r, &SchemaError{Field: "flags", Reason: "each flag must be 1..64 characters"}
		}
	}
	r.Flags = w.Flags
	return r, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "float64":
		return "a number"
	case "slice":
		return "an array"
	case "struct":
		return "a date-time string"
	}
	return goKind
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// meterState is what the validator remembers per meter: 32 bytes (24 and
// the input partition, padded), plus the 8-byte key (a 64-bit hash of the
// meter id) in the map.
type meterState struct {
	regMilli int64  // register of the latest read in Wh (kWh × 1000, rounded)
	seen     uint64 // bit j: a read at last − j·interval has been seen
	last     uint32 // read_at of the latest read, seconds since epoch2000
	interval uint32 // seconds
	part     int32  // the input partition of its reads (DropPartition)
}

// epoch2000 is the origin of meterState.last; reads before it or past
// 2136 are rejected (read_at_out_of_range): a meter whose clock reset.
var epoch2000 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

const shards = 64

type shard struct {
	mu     sync.Mutex
	meters map[uint64]meterState
}

// Validator applies the rules to a stream of reads, remembering per meter
// only a fixed-size state (the latest read_at and register, a 64-interval
// bitmap of reads seen, the interval): duplicates are recognised within the
// 64 intervals before a meter's latest read. Meters are keyed by a 64-bit
// hash of their id (two ids colliding — odds about 1 in 10^12 for a million
// meters — would share a state). Safe for concurrent use.
type Validator struct {
	cfg      Config
	seed     maphash.Seed
	perShard int
	shards   [shards]shard
}

// New returns a validator with cfg's thresholds (zero fields take defaults).
func New(cfg Config) (*Validator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Validator{cfg: cfg, seed: maphash.MakeSeed(), perShard: max(1, cfg.MaxMeters/shards)}
	for i := range v.shards {
		v.shards[i].meters = make(map[uint64]meterState)
	}
	return v, nil
}

// Config returns the configuration in force, defaults applied.
func (v *Validator) Config() Config { return v.cfg }

// Meters returns how many meters the validator remembers.
func (v *Validator) Meters() int {
	n := 0
	for i := range v.shards {
		v.shards[i].mu.Lock()
		n += len(v.shards[i].meters)
		v.shards[i].mu.Unlock()
	}
	return n
}

// Check applies every rule to r, with ref as "now" (see Config.Reference),
// appends the findings to dst and returns it. No findings means a good read.
// A read with a Rejected finding carries no other findings and does not
// change the meter's state; otherwise the state advances.
func (v *Validator) Check(dst []Finding, r *events.MeterReading, ref time.Time) []Finding {
	return v.CheckFrom(dst, r, ref, 0)
}

// DropPartition forgets the meters whose reads came from input partition
// p: the partition moved to another instance, or its history is about to
// be replayed (rivers.PartitionState).
func (v *Validator) DropPartition(p int) {
	for i := range v.shards {
		sh := &v.shards[i]
		sh.mu.Lock()
		for k, st := range sh.meters {
			if int(st.part) == p {
				delete(sh.meters, k)
			}
		}
		sh.mu.Unlock()
	}
}

// CheckFrom is Check for a read of input partition part: the meter's state
// remembers it, for DropPartition.
func (v *Validator) CheckFrom(dst []Finding, r *events.MeterReading, ref time.Time, part int) []Finding {
	c := &v.cfg
	// Hard limits first: nothing of an impossible read is remembered.
	if r.VoltageVolts > c.MaxVoltageV {
		return append(dst, Finding{Rule: RuleVoltageOutOfRange, Severity: Rejected, Field: "voltage_v", Value: r.VoltageVolts, Threshold: c.MaxVoltageV,
			Reason: fmt.Sprintf("voltage %g V is above the possible maximum %g V", r.VoltageVolts, c.MaxVoltageV)})
	}
	if math.Abs(r.DemandKW) > c.MaxDemandKW {
		return append(dst, Finding{Rule: RuleDemandOutOfRange, Severity: Rejected, Field: "demand_kw", Value: r.DemandKW, Threshold: c.MaxDemandKW,
			Reason: fmt.Sprintf("demand %g kW is beyond the possible maximum %g kW", r.DemandKW, c.MaxDemandKW)})
	}
	at := r.ReadAt.Unix() - epoch2000
	if at < 0 || at > math.MaxUint32 {
		return append(dst, Finding{Rule: RuleReadAtOutOfRange, Severity: Rejected, Field: "read_at",
			Reason: fmt.Sprintf("read_at %s is outside 2000–2136: the meter's clock was reset", r.ReadAt.UTC().Format(time.RFC3339))})
	}
	if ahead := r.ReadAt.Sub(ref); ahead > c.MaxClockSkew {
		return append(dst, Finding{Rule: RuleReadAtInFuture, Severity: Rejected, Field: "read_at", Value: ahead.Seconds(), Threshold: c.MaxClockSkew.Seconds(),
			Reason: fmt.Sprintf("read_at is %s ahead of the reference clock (limit %s): the meter's clock is wrong", ahead.Round(time.Second), c.MaxClockSkew)})
	}
	interval := int64(r.IntervalSeconds)
	reg := int64(math.Round(r.EnergyKWhTotal * 1000))
	rollover := slices.Contains(r.Flags, "register_rollover")

	key := maphash.String(v.seed, r.MeterID)
	sh := &v.shards[key>>58] // the top 6 bits pick one of 64 shards
	sh.mu.Lock()
	st, known := sh.meters[key]
	last := int64(st.last)
	newer := !known || at > last
	if known {
		var rej *Finding
		switch {
		case at == last && reg == st.regMilli:
			rej = &Finding{Rule: RuleDuplicate, Reason: "a read of this meter at this read_at was already received"}
		case at == last:
			rej = &Finding{Rule: RuleDuplicateConflict, Field: "energy_kwh_total", Value: r.EnergyKWhTotal, Threshold: float64(st.regMilli) / 1000,
				Reason: fmt.Sprintf("a read at this read_at already reported %.3f kWh", float64(st.regMilli)/1000)}
		case newer && reg < st.regMilli && !rollover:
			rej = &Finding{Rule: RuleRegisterDecreased, Field: "energy_kwh_total", Value: r.EnergyKWhTotal, Threshold: float64(st.regMilli) / 1000,
				Reason: fmt.Sprintf("register %.3f kWh is below %.3f kWh read earlier", r.EnergyKWhTotal, float64(st.regMilli)/1000)}
		case !newer && reg > st.regMilli:
			rej = &Finding{Rule: RuleRegisterDecreased, Field: "energy_kwh_total", Value: r.EnergyKWhTotal, Threshold: float64(st.regMilli) / 1000,
				Reason: fmt.Sprintf("this older read's register %.3f kWh is above %.3f kWh of a later read", r.EnergyKWhTotal, float64(st.regMilli)/1000)}
		case !newer && st.interval > 0 && (last-at)%int64(st.interval) == 0 && (last-at)/int64(st.interval) < 64:
			bit := uint64(1) << ((last - at) / int64(st.interval))
			if st.seen&bit != 0 {
				rej = &Finding{Rule: RuleDuplicate, Reason: "a read of this meter at this read_at was already received"}
			} else {
				st.seen |= bit
			}
		}
		if rej != nil {
			sh.mu.Unlock()
			rej.Severity = Rejected
			return append(dst, *rej)
		}
	}
	prev := st
	if newer {
		if known && st.interval > 0 && interval == int64(st.interval) && (at-last)%interval == 0 {
			if d := (at - last) / interval; d < 64 {
				st.seen = st.seen<<uint(d) | 1
			} else {
				st.seen = 1
			}
		} else {
			st.seen = 1
		}
		st.last, st.regMilli, st.interval = uint32(at), reg, uint32(interval)
	}
	if !known && len(sh.meters) >= v.perShard {
		for k := range sh.meters { // forget an arbitrary meter
			delete(sh.meters, k)
			break
		}
	}
	st.part = int32(part)
	sh.meters[key] = st
	sh.mu.Unlock()

	add := func(f Finding) {
		f.Severity = Anomalous
		dst = append(dst, f)
	}
	if !newer {
		add(Finding{Rule: RuleOutOfOrder, Field: "read_at", Value: float64(int64(prev.last) - at), Threshold: 0,
			Reason: fmt.Sprintf("read_at is %s before this meter's latest read", time.Duration(int64(prev.last)-at)*time.Second)})
	}
	if lag := ref.Sub(r.ReadAt); lag > c.LateAfter {
		add(Finding{Rule: RuleLate, Field: "read_at", Value: lag.Seconds(), Threshold: c.LateAfter.Seconds(),
			Reason: fmt.Sprintf("read arrived %s after read_at (limit %s)", lag.Round(time.Second), c.LateAfter)})
	}
	if known && newer {
		dt := at - int64(prev.last)
		switch {
		case reg < prev.regMilli: // only with the rollover flag
			add(Finding{Rule: RuleRegisterRolledOver, Field: "energy_kwh_total", Value: r.EnergyKWhTotal, Threshold: float64(prev.regMilli) / 1000,
				Reason: "register went back, flagged register_rollover"})
		case reg == prev.regMilli && r.DemandKW >= c.StuckDemandKW:
			add(Finding{Rule: RuleRegisterStuck, Field: "energy_kwh_total", Value: r.EnergyKWhTotal, Threshold: c.StuckDemandKW,
				Reason: fmt.Sprintf("register did not move in %s while the meter reports %g kW", time.Duration(dt)*time.Second, r.DemandKW)})
		default:
			if implied := float64(reg-prev.regMilli) / 1000 / (float64(dt) / 3600); implied > c.DemandSpikeKW {
				add(Finding{Rule: RuleRegisterJump, Field: "energy_kwh_total", Value: implied, Threshold: c.DemandSpikeKW,
					Reason: fmt.Sprintf("register rose %.3f kWh in %s: an average of %.1f kW", float64(reg-prev.regMilli)/1000, time.Duration(dt)*time.Second, implied)})
			}
		}
	}
	if math.Abs(r.DemandKW) > c.DemandSpikeKW {
		add(Finding{Rule: RuleDemandSpike, Field: "demand_kw", Value: r.DemandKW, Threshold: c.DemandSpikeKW,
			Reason: fmt.Sprintf("demand %g kW is above %g kW", r.DemandKW, c.DemandSpikeKW)})
	}
	powerFail := slices.Contains(r.Flags, "power_fail")
	if v := r.VoltageVolts; (v < c.VoltageLowV && !(v == 0 && powerFail)) || v > c.VoltageHighV {
		th := c.VoltageLowV
		if v > c.VoltageHighV {
			th = c.VoltageHighV
		}
		add(Finding{Rule: RuleVoltageOutOfBand, Field: "voltage_v", Value: v, Threshold: th,
			Reason: fmt.Sprintf("voltage %g V is outside %g–%g V", v, c.VoltageLowV, c.VoltageHighV)})
	}
	if slices.Contains(r.Flags, "clock_invalid") {
		add(Finding{Rule: RuleClockInvalid, Reason: "the meter flagged its clock as invalid"})
	}
	if slices.Contains(r.Flags, "tamper") {
		add(Finding{Rule: RuleTamper, Reason: "the meter flagged tampering"})
	}
	if interval > 0 && at%interval != 0 {
		add(Finding{Rule: RuleReadAtUnaligned, Field: "read_at", Value: float64(at % interval), Threshold: 0,
			Reason: fmt.Sprintf("read_at is %ds past a %ds interval boundary: the meter's clock is probably skewed", at%interval, interval)})
	}
	if known && prev.interval > 0 && int64(prev.interval) != interval {
		add(Finding{Rule: RuleIntervalMismatch, Field: "interval_s", Value: float64(interval), Threshold: float64(prev.interval),
			Reason: fmt.Sprintf("interval_s %d differs from %d of this meter's previous read", interval, prev.interval)})
	}
	return dst
}
