package clockwatch

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// Name is the service's name.
const Name = "clock-watch"

// Config is the clock watch's configuration.
type Config struct {
	// Threshold: a source whose median offset passes it is reported.
	// Default 30s (CLOCK_THRESHOLD).
	Threshold time.Duration
	// ClearBelow: a reported source is re-armed once its median offset is
	// below it. Default Threshold/2 (CLOCK_CLEAR_BELOW).
	ClearBelow time.Duration
	// Window is the number of recent events per source the median is taken
	// over. Default 21 (CLOCK_WINDOW).
	Window int
	// MinSamples is how many events a source needs before it is judged.
	// Default 5 (CLOCK_MIN_SAMPLES).
	MinSamples int
	// Topics are the topics watched, "rivers" and/or "rapids". Default both
	// (CLOCK_TOPICS, comma-separated).
	Topics []string
	// ForgetAfter drops sources silent this long. Default 1h
	// (CLOCK_FORGET_AFTER).
	ForgetAfter time.Duration
	// RateSpan is the record time over which each source's clock rate is
	// measured; a source is judged once a span is measured. Default 10s
	// (CLOCK_RATE_SPAN).
	RateSpan time.Duration
	// MaxRate: a source whose ce_time advances more than MaxRate times
	// faster (or slower) than the record time is on another clock — a
	// simulated grid, a replay — and is not judged. Default 2
	// (CLOCK_MAX_RATE).
	MaxRate float64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Threshold: 30 * time.Second, Window: 21, MinSamples: 5, Topics: []string{"rivers", "rapids"}, ForgetAfter: time.Hour,
		RateSpan: 10 * time.Second, MaxRate: 2}
}

// ConfigFromEnv reads the CLOCK_* variables over the defaults.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Duration("CLOCK_THRESHOLD", &c.Threshold)
	r.Duration("CLOCK_CLEAR_BELOW", &c.ClearBelow)
	r.Duration("CLOCK_FORGET_AFTER", &c.ForgetAfter)
	r.Int("CLOCK_WINDOW", &c.Window)
	r.Int("CLOCK_MIN_SAMPLES", &c.MinSamples)
	r.Duration("CLOCK_RATE_SPAN", &c.RateSpan)
	r.Float("CLOCK_MAX_RATE", &c.MaxRate)
	r.List("CLOCK_TOPICS", &c.Topics)
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate reports invalid values, naming the variable.
func (c Config) Validate() error {
	var errs []error
	if c.Threshold <= 0 {
		errs = append(errs, fmt.Errorf("CLOCK_THRESHOLD=%s: must be positive", c.Threshold))
	}
	if c.ClearBelow < 0 || c.ClearBelow > c.Threshold {
		errs = append(errs, fmt.Errorf("CLOCK_CLEAR_BELOW=%s: must be between 0 and CLOCK_THRESHOLD", c.ClearBelow))
	}
	if c.Window < 1 {
		errs = append(errs, fmt.Errorf("CLOCK_WINDOW=%d: must be at least 1", c.Window))
	}
	if c.MinSamples < 1 || c.MinSamples > c.Window {
		errs = append(errs, fmt.Errorf("CLOCK_MIN_SAMPLES=%d: must be between 1 and CLOCK_WINDOW", c.MinSamples))
	}
	if len(c.Topics) == 0 {
		errs = append(errs, fmt.Errorf("CLOCK_TOPICS is empty: name rivers, rapids or both"))
	}
	for _, t := range c.Topics {
		if t != "rivers" && t != "rapids" {
			errs = append(errs, fmt.Errorf("CLOCK_TOPICS: %q: want rivers or rapids", t))
		}
	}
	if c.RateSpan <= 0 {
		errs = append(errs, fmt.Errorf("CLOCK_RATE_SPAN=%s: must be positive", c.RateSpan))
	}
	if !(c.MaxRate > 1) {
		errs = append(errs, fmt.Errorf("CLOCK_MAX_RATE=%g: must be more than 1 (a wall clock's rate is 1)", c.MaxRate))
	}
	if c.ForgetAfter <= 0 {
		errs = append(errs, fmt.Errorf("CLOCK_FORGET_AFTER=%s: must be positive", c.ForgetAfter))
	}
	return errors.Join(errs...)
}

// DetectorConfig returns the detector settings of c.
func (c Config) DetectorConfig() DetectorConfig {
	return DetectorConfig{Window: c.Window, MinSamples: c.MinSamples, Threshold: c.Threshold, ClearBelow: c.ClearBelow,
		RateSpan: c.RateSpan, MaxRate: c.MaxRate}
}

// Payload returns the system.clock.skew.v1 payload of a skew transition.
func Payload(tr Transition, threshold time.Duration) events.ClockSkew {
	return events.ClockSkew{Source: tr.Source, OffsetSeconds: tr.Offset.Seconds(), ThresholdSeconds: threshold.Seconds(),
		Samples: tr.Samples, WindowSeconds: tr.Window.Seconds(), DetectedAt: tr.At.UTC()}
}
