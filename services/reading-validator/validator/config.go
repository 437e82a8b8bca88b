package validator

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"math"
	"os"
	"time"
)

// Name is the service's name: its ce_source is /services/reading-validator.
const Name = "reading-validator"

// Config holds the thresholds of the rules. Zero fields take the defaults
// of DefaultConfig when passed through withDefaults (Register does).
type Config struct {
	// MaxVoltageV: a voltage above it is impossible (a wrong unit or a
	// broken sensor) and rejects the read (voltage_out_of_range).
	// Env VALIDATOR_MAX_VOLTAGE_V, default 500.
	MaxVoltageV float64
	// VoltageLowV and VoltageHighV bound the statutory band; a voltage
	// outside it is anomalous (voltage_out_of_band), except 0 V on a read
	// flagged power_fail. Env VALIDATOR_VOLTAGE_LOW_V / _HIGH_V, default
	// 207 and 253 (230 V −10 % / +10 %).
	VoltageLowV, VoltageHighV float64
	// MaxDemandKW: |demand| above it rejects the read (demand_out_of_range).
	// Env VALIDATOR_MAX_DEMAND_KW, default 1000.
	MaxDemandKW float64
	// DemandSpikeKW: |demand| above it, or a register delta implying an
	// average demand above it, is anomalous (demand_spike, register_jump).
	// Env VALIDATOR_DEMAND_SPIKE_KW, default 60.
	DemandSpikeKW float64
	// StuckDemandKW: a register that did not move while the meter reports
	// at least this demand is anomalous (register_stuck).
	// Env VALIDATOR_STUCK_DEMAND_KW, default 0.05.
	StuckDemandKW float64
	// MaxClockSkew: a read_at further than this ahead of the reference time
	// is rejected (read_at_in_future). Env VALIDATOR_MAX_CLOCK_SKEW,
	// default 5m.
	MaxClockSkew time.Duration
	// LateAfter: a read whose read_at is older than the reference time by
	// more than this is anomalous (late). Env VALIDATOR_LATE_AFTER,
	// default 1h.
	LateAfter time.Duration
	// Reference selects the "now" reads are compared with: "event" (the
	// reading event's ce_time, i.e. when the collector or gateway published
	// it — right for a simulated, accelerated clock) or "wall" (this
	// process's clock). Env VALIDATOR_REFERENCE, default "event".
	Reference string
	// MaxMeters bounds the per-meter state; past it an arbitrary meter is
	// forgotten. Env VALIDATOR_MAX_METERS, default 5,000,000.
	MaxMeters int
}

// Reference clocks.
const (
	ReferenceEvent = "event"
	ReferenceWall  = "wall"
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxVoltageV:   500,
		VoltageLowV:   207,
		VoltageHighV:  253,
		MaxDemandKW:   1000,
		DemandSpikeKW: 60,
		StuckDemandKW: 0.05,
		MaxClockSkew:  5 * time.Minute,
		LateAfter:     time.Hour,
		Reference:     ReferenceEvent,
		MaxMeters:     5_000_000,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setF(&c.MaxVoltageV, d.MaxVoltageV)
	setF(&c.VoltageLowV, d.VoltageLowV)
	setF(&c.VoltageHighV, d.VoltageHighV)
	setF(&c.MaxDemandKW, d.MaxDemandKW)
	setF(&c.DemandSpikeKW, d.DemandSpikeKW)
	setF(&c.StuckDemandKW, d.StuckDemandKW)
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = d.MaxClockSkew
	}
	if c.LateAfter == 0 {
		c.LateAfter = d.LateAfter
	}
	if c.Reference == "" {
		c.Reference = d.Reference
	}
	if c.MaxMeters == 0 {
		c.MaxMeters = d.MaxMeters
	}
	return c
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("reading-validator: invalid configuration")

// Validate reports the first bad field (after defaults), naming its
// environment variable.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(env string, v any, want string) error {
		return fmt.Errorf("%w: %s=%v: want %s", ErrConfig, env, v, want)
	}
	pos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
	switch {
	case !pos(c.MaxVoltageV):
		return bad("VALIDATOR_MAX_VOLTAGE_V", c.MaxVoltageV, "a positive number of volts")
	case !pos(c.VoltageLowV) || c.VoltageLowV >= c.VoltageHighV:
		return bad("VALIDATOR_VOLTAGE_LOW_V", c.VoltageLowV, "positive and below VALIDATOR_VOLTAGE_HIGH_V")
	case !pos(c.VoltageHighV) || c.VoltageHighV > c.MaxVoltageV:
		return bad("VALIDATOR_VOLTAGE_HIGH_V", c.VoltageHighV, "positive and at most VALIDATOR_MAX_VOLTAGE_V")
	case !pos(c.MaxDemandKW):
		return bad("VALIDATOR_MAX_DEMAND_KW", c.MaxDemandKW, "a positive number of kW")
	case !pos(c.DemandSpikeKW) || c.DemandSpikeKW > c.MaxDemandKW:
		return bad("VALIDATOR_DEMAND_SPIKE_KW", c.DemandSpikeKW, "positive and at most VALIDATOR_MAX_DEMAND_KW")
	case !pos(c.StuckDemandKW):
		return bad("VALIDATOR_STUCK_DEMAND_KW", c.StuckDemandKW, "a positive number of kW")
	case c.MaxClockSkew < 0:
		return bad("VALIDATOR_MAX_CLOCK_SKEW", c.MaxClockSkew, "a non-negative duration such as 5m")
	case c.LateAfter < 0:
		return bad("VALIDATOR_LATE_AFTER", c.LateAfter, "a non-negative duration such as 1h")
	case c.Reference != ReferenceEvent && c.Reference != ReferenceWall:
		return bad("VALIDATOR_REFERENCE", c.Reference, `"event" or "wall"`)
	case c.MaxMeters < 1:
		return bad("VALIDATOR_MAX_METERS", c.MaxMeters, "a positive count")
	}
	return nil
}

// ConfigFromEnv reads the environment variables documented on Config,
// starting from DefaultConfig.
func ConfigFromEnv() (Config, error) { return configFromLookup(os.LookupEnv) }

func configFromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := DefaultConfig()
	r := env.Lookup(lookup)
	r.Float("VALIDATOR_MAX_VOLTAGE_V", &c.MaxVoltageV)
	r.Float("VALIDATOR_VOLTAGE_LOW_V", &c.VoltageLowV)
	r.Float("VALIDATOR_VOLTAGE_HIGH_V", &c.VoltageHighV)
	r.Float("VALIDATOR_MAX_DEMAND_KW", &c.MaxDemandKW)
	r.Float("VALIDATOR_DEMAND_SPIKE_KW", &c.DemandSpikeKW)
	r.Float("VALIDATOR_STUCK_DEMAND_KW", &c.StuckDemandKW)
	r.Duration("VALIDATOR_MAX_CLOCK_SKEW", &c.MaxClockSkew)
	r.Duration("VALIDATOR_LATE_AFTER", &c.LateAfter)
	r.String("VALIDATOR_REFERENCE", &c.Reference)
	r.Int("VALIDATOR_MAX_METERS", &c.MaxMeters)
	if err := r.Err(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, c.Validate()
}
