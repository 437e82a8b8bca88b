package simulator

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Name is the service's name: its ce_source is /services/meter-simulator.
const Name = "meter-simulator"

// Rates of the run loop.
const (
	// RatePaced publishes each upload when the accelerated grid clock
	// reaches its due time.
	RatePaced = "paced"
	// RateMax publishes as fast as the broker accepts: grid time races.
	RateMax = "max"
)

// Config configures the simulator service. Environment variables and
// defaults are listed on each field (and in doc.go).
type Config struct {
	// Fleet sizes the grid: SIM_SEED (1), SIM_METERS (10000),
	// SIM_METERS_PER_TRANSFORMER (20), SIM_TRANSFORMERS_PER_FEEDER (50),
	// SIM_FEEDERS_PER_SUBSTATION (8), SIM_TRANSFORMERS_PER_COLLECTOR (10),
	// SIM_NOMINAL_VOLTAGE (230).
	Fleet FleetConfig
	// Start is the grid time of the first interval boundary. SIM_START
	// (RFC 3339), default: the wall clock at start, truncated to the
	// interval.
	Start time.Time
	// End stops the simulation once grid time passes it (zero: never).
	// SIM_END (RFC 3339, or a duration after Start such as 72h).
	End time.Time
	// Interval between reads. SIM_INTERVAL, default 15m.
	Interval time.Duration
	// Speed is grid seconds per wall second. SIM_SPEED, default 900 (a
	// 15-minute interval every second: a day in 96 s).
	Speed float64
	// Rate is RatePaced (default) or RateMax. SIM_RATE.
	Rate string
	// MaxUploadDelay bounds a collector's random upload delay after each
	// interval. SIM_MAX_UPLOAD_DELAY, default 5m (grid time).
	MaxUploadDelay time.Duration
	// Faults injected from the start. SIM_FAULTS: faults separated by ";",
	// each "kind,key=value,...", keys target, rate, from, to, for, skew;
	// from/to are RFC 3339 or "+duration" after Start, for is a duration
	// after from. Example: "outage,target=TX-00003,from=+6h,for=2h;
	// duplicate,rate=0.01". Shorthands for fleet-wide rates:
	// SIM_MISSING_RATE, SIM_DUPLICATE_RATE, SIM_OUT_OF_ORDER_RATE,
	// SIM_MALFORMED_RATE (default 0 each).
	Faults []Fault
	// BatchSize is the most records per publish call. SIM_BATCH, default
	// 2000.
	BatchSize int
	// ReadingTTL is the use-by of each reading event after publication.
	// SIM_READING_TTL, default 24h.
	ReadingTTL time.Duration
	// Checkpoint is the file where the simulator keeps its position (the
	// grid clock and the first interval not entirely published), so that a
	// restart continues the simulation instead of starting it again. Its
	// directory must exist. SIM_CHECKPOINT, default "" (no checkpoint: a
	// restart starts from SIM_START, or from the wall clock).
	Checkpoint string
	// CommandSource is the only ce_source whose meter.command.v1 the
	// meters obey (control is authenticated); others are dead-lettered.
	// SIM_COMMAND_SOURCE, default (and when empty) /services/command-dispatcher.
	CommandSource string
	// CommandDropRate is the probability that a command attempt is lost on
	// its way to the meter (no ack: the dispatcher replays it), decided
	// from the seed, command id and attempt. SIM_COMMAND_DROP_RATE,
	// default 0.
	CommandDropRate float64
	// MeterMemory is how long (grid time) a meter keeps a read the network
	// lost (SIM_MISSING_RATE), to send it again on a re-read.
	// SIM_METER_MEMORY, default 48h (0: the default).
	MeterMemory time.Duration
}

// DefaultConfig returns the defaults; Start is left zero (the wall clock at
// start).
func DefaultConfig() Config {
	return Config{
		Fleet:          DefaultFleetConfig(),
		Interval:       15 * time.Minute,
		Speed:          900,
		Rate:           RatePaced,
		MaxUploadDelay: 5 * time.Minute,
		BatchSize:      2000,
		ReadingTTL:     24 * time.Hour,
		CommandSource:  "/services/command-dispatcher",
		MeterMemory:    DefaultMeterMemory,
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("meter-simulator: invalid configuration")

// Validate reports the first bad setting, naming its variable.
func (c Config) Validate() error {
	if err := c.Fleet.Validate(); err != nil {
		return fmt.Errorf("%w: SIM_METERS and fleet shape: %w", ErrConfig, err)
	}
	switch {
	case c.Speed <= 0:
		return fmt.Errorf("%w: SIM_SPEED=%g: want a positive factor such as 900", ErrConfig, c.Speed)
	case c.Rate != RatePaced && c.Rate != RateMax:
		return fmt.Errorf("%w: SIM_RATE=%q: want %q or %q", ErrConfig, c.Rate, RatePaced, RateMax)
	case c.BatchSize < 1:
		return fmt.Errorf("%w: SIM_BATCH=%d: want a positive count", ErrConfig, c.BatchSize)
	case c.CommandDropRate < 0 || c.CommandDropRate > 1 || c.CommandDropRate != c.CommandDropRate:
		return fmt.Errorf("%w: SIM_COMMAND_DROP_RATE=%g: want a probability in [0, 1]", ErrConfig, c.CommandDropRate)
	case c.MeterMemory < 0:
		return fmt.Errorf("%w: SIM_METER_MEMORY=%s: want a non-negative duration", ErrConfig, c.MeterMemory)
	case c.ReadingTTL < 0:
		return fmt.Errorf("%w: SIM_READING_TTL=%s: want a non-negative duration", ErrConfig, c.ReadingTTL)
	case c.Checkpoint != "" && !isDir(filepath.Dir(c.Checkpoint)):
		return fmt.Errorf("%w: SIM_CHECKPOINT=%q: directory %s does not exist", ErrConfig, c.Checkpoint, filepath.Dir(c.Checkpoint))
	case !c.End.IsZero() && !c.Start.IsZero() && !c.End.After(c.Start):
		return fmt.Errorf("%w: SIM_END=%s is not after SIM_START=%s", ErrConfig, c.End, c.Start)
	}
	f, err := NewFleet(c.Fleet)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	start := c.Start
	if start.IsZero() {
		start = time.Now()
	}
	if err := c.scenario(start).Validate(f); err != nil {
		return fmt.Errorf("%w: SIM_INTERVAL, SIM_MAX_UPLOAD_DELAY or SIM_FAULTS: %w", ErrConfig, err)
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func (c Config) scenario(start time.Time) Scenario {
	return Scenario{Start: start, Interval: c.Interval, MaxUploadDelay: c.MaxUploadDelay, Faults: c.Faults}
}

// ConfigFromEnv reads the SIM_* variables over DefaultConfig.
func ConfigFromEnv() (Config, error) { return configFromLookup(os.LookupEnv, time.Now()) }

func configFromLookup(lookup func(string) (string, bool), now time.Time) (Config, error) {
	c := DefaultConfig()
	r := env.Lookup(lookup)
	for _, f := range []struct {
		env string
		dst *int
	}{
		{"SIM_METERS", &c.Fleet.Meters},
		{"SIM_METERS_PER_TRANSFORMER", &c.Fleet.MetersPerTransformer},
		{"SIM_TRANSFORMERS_PER_FEEDER", &c.Fleet.TransformersPerFeeder},
		{"SIM_FEEDERS_PER_SUBSTATION", &c.Fleet.FeedersPerSubstation},
		{"SIM_TRANSFORMERS_PER_COLLECTOR", &c.Fleet.TransformersPerCollector},
		{"SIM_BATCH", &c.BatchSize},
	} {
		r.Int(f.env, f.dst)
	}
	r.Func("SIM_SEED", func(v string) (err error) {
		if c.Fleet.Seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return errors.New("want a non-negative whole number")
		}
		return nil
	})
	r.Float("SIM_SPEED", &c.Speed)
	r.Float("SIM_NOMINAL_VOLTAGE", &c.Fleet.NominalVoltage)
	r.Float("SIM_COMMAND_DROP_RATE", &c.CommandDropRate)
	r.Duration("SIM_INTERVAL", &c.Interval)
	r.Duration("SIM_MAX_UPLOAD_DELAY", &c.MaxUploadDelay)
	r.Duration("SIM_READING_TTL", &c.ReadingTTL)
	r.Duration("SIM_METER_MEMORY", &c.MeterMemory)
	r.String("SIM_RATE", &c.Rate)
	r.String("SIM_COMMAND_SOURCE", &c.CommandSource)
	r.String("SIM_CHECKPOINT", &c.Checkpoint)
	r.Func("SIM_START", func(v string) (err error) {
		if c.Start, err = time.Parse(time.RFC3339, v); err != nil {
			return errors.New("want an RFC 3339 time such as 2026-03-02T00:00:00Z")
		}
		return nil
	})
	start := c.Start
	if start.IsZero() {
		start = now
	}
	start = start.UTC().Truncate(max(c.Interval, time.Second))
	r.Func("SIM_END", func(v string) (err error) {
		c.End, err = parseWhen(v, start)
		return err
	})
	for _, rf := range []struct {
		env  string
		kind FaultKind
	}{{"SIM_MISSING_RATE", FaultMissing}, {"SIM_DUPLICATE_RATE", FaultDuplicate}, {"SIM_OUT_OF_ORDER_RATE", FaultOutOfOrder}, {"SIM_MALFORMED_RATE", FaultMalformed}} {
		rate := 0.0
		r.Func(rf.env, func(v string) (err error) {
			if rate, err = strconv.ParseFloat(v, 64); err != nil {
				return errors.New("want a probability such as 0.01")
			}
			return nil
		})
		if rate != 0 {
			c.Faults = append(c.Faults, Fault{Kind: rf.kind, Rate: rate})
		}
	}
	r.Func("SIM_FAULTS", func(v string) error {
		fs, err := ParseFaults(v, start)
		c.Faults = append(c.Faults, fs...)
		return err
	})
	if err := r.Err(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, c.Validate()
}

// parseWhen reads an RFC 3339 time or "+duration" / "duration" after base.
func parseWhen(s string, base time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or +duration, got %q", s)
	}
	return base.Add(d), nil
}

// ParseFaults parses the SIM_FAULTS syntax: faults separated by ";", each
// "kind,key=value,..." with keys target, rate, from, to, for (a duration
// after from) and skew. Relative times ("+6h") count from start.
func ParseFaults(spec string, start time.Time) ([]Fault, error) {
	var out []Fault
	for part := range strings.SplitSeq(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ",")
		f := Fault{Kind: FaultKind(strings.TrimSpace(fields[0]))}
		var dur time.Duration
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				return nil, fmt.Errorf("%q: want key=value, got %q", part, kv)
			}
			var err error
			switch k {
			case "target":
				f.Target = v
			case "rate":
				f.Rate, err = strconv.ParseFloat(v, 64)
			case "from":
				f.From, err = parseWhen(v, start)
			case "to":
				f.To, err = parseWhen(v, start)
			case "for":
				dur, err = time.ParseDuration(v)
			case "skew":
				f.Skew, err = time.ParseDuration(v)
			default:
				return nil, fmt.Errorf("%q: unknown key %q (want target, rate, from, to, for, skew)", part, k)
			}
			if err != nil {
				return nil, fmt.Errorf("%q: %s: %w", part, k, err)
			}
		}
		if dur > 0 {
			from := f.From
			if from.IsZero() {
				from = start
				f.From = start
			}
			f.To = from.Add(dur)
		}
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		out = append(out, f)
	}
	return out, nil
}
