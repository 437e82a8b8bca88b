package outage

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"os"
	"time"
)

// Name is the service name: its source is /services/outage-detector.
const Name = "outage-detector"

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("outage: invalid config")

// Config is the outage detector's configuration. Durations named "event
// time" are measured on the readings' clock, not the wall clock.
type Config struct {
	// Threshold: an outage is suspected when at least this share of a
	// transformer's meters went silent within Window. Default 0.5.
	// OUTAGE_THRESHOLD.
	Threshold float64
	// RestoreShare: the outage is restored when the share of its meters
	// still silent falls below this (hysteresis). Default 0.2.
	// OUTAGE_RESTORE_SHARE.
	RestoreShare float64
	// MinMeters silent at least for a suspicion: one dead meter is not an
	// outage. Default 3. OUTAGE_MIN_METERS.
	MinMeters int
	// Window (event time) within which the meters' silences must start to
	// be correlated. Default 1h. OUTAGE_WINDOW.
	Window time.Duration
	// PopulationHorizon (event time): a meter counts under its transformer
	// while it was heard of (a read or a missed read) within this long.
	// Default 48h. OUTAGE_POPULATION_HORIZON.
	PopulationHorizon time.Duration
	// History (event time): each meter's reads and missed reads are kept
	// this long behind its newest, so that a missed read that arrives after
	// the reads around it (the rapids read ahead of the rivers) is still
	// placed in the meter's history. A missed read older than that is
	// ignored. Default 12h. OUTAGE_HISTORY.
	History time.Duration
	// MaxClockSkew and SkewConfirm guard the event-time watermark against a
	// meter with a wrong clock. Default 2h, 100. OUTAGE_MAX_CLOCK_SKEW,
	// OUTAGE_SKEW_CONFIRM.
	MaxClockSkew time.Duration
	SkewConfirm  int
	// IdleAfter: a rapids partition read to its end whose meters all fell
	// silent stops holding the reads watermark back once this much newer
	// record time (the broker's clock) was read from the other partitions.
	// A partition with records still to read holds it however far behind.
	// Default 10s. OUTAGE_IDLE_AFTER.
	IdleAfter time.Duration
	// WarmUp (event time): after a start (the detector's state is in
	// memory), nothing is suspected until the reads watermark has passed the
	// first read by this much: until then a transformer's population is
	// not known and a few silent meters would look like most of it.
	// Default 1h. OUTAGE_WARMUP.
	WarmUp time.Duration
	// Tick is the wall-clock period of the evaluation timer. Default 1s.
	// OUTAGE_TICK.
	Tick time.Duration
	// CheckpointDir holds the final checkpoint a clean stop saves and the
	// next start restores (Service.Stopped). Empty: none, a restart starts
	// empty with the warm-up. OUTAGE_CHECKPOINT_DIR.
	CheckpointDir string
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Threshold:         0.5,
		RestoreShare:      0.2,
		MinMeters:         3,
		Window:            time.Hour,
		PopulationHorizon: 48 * time.Hour,
		History:           12 * time.Hour,
		MaxClockSkew:      2 * time.Hour,
		SkewConfirm:       100,
		IdleAfter:         10 * time.Second,
		WarmUp:            time.Hour,
		Tick:              time.Second,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case !(c.Threshold > 0 && c.Threshold <= 1):
		return fmt.Errorf("%w: OUTAGE_THRESHOLD %v: want a share in (0, 1] (e.g. 0.5)", ErrInvalidConfig, c.Threshold)
	case !(c.RestoreShare > 0 && c.RestoreShare < c.Threshold):
		return fmt.Errorf("%w: OUTAGE_RESTORE_SHARE %v: want a share in (0, OUTAGE_THRESHOLD) (e.g. 0.2)", ErrInvalidConfig, c.RestoreShare)
	case c.MinMeters < 1:
		return fmt.Errorf("%w: OUTAGE_MIN_METERS %d: want >= 1 (e.g. 3)", ErrInvalidConfig, c.MinMeters)
	case c.Window <= 0:
		return fmt.Errorf("%w: OUTAGE_WINDOW %v: want > 0 (e.g. 1h)", ErrInvalidConfig, c.Window)
	case c.PopulationHorizon < c.Window:
		return fmt.Errorf("%w: OUTAGE_POPULATION_HORIZON %v: want >= OUTAGE_WINDOW", ErrInvalidConfig, c.PopulationHorizon)
	case c.History < c.Window:
		return fmt.Errorf("%w: OUTAGE_HISTORY %v: want >= OUTAGE_WINDOW", ErrInvalidConfig, c.History)
	case c.MaxClockSkew <= 0:
		return fmt.Errorf("%w: OUTAGE_MAX_CLOCK_SKEW %v: want > 0 (e.g. 2h)", ErrInvalidConfig, c.MaxClockSkew)
	case c.WarmUp < 0:
		return fmt.Errorf("%w: OUTAGE_WARMUP %v: want >= 0 (e.g. 1h)", ErrInvalidConfig, c.WarmUp)
	case c.IdleAfter <= 0:
		return fmt.Errorf("%w: OUTAGE_IDLE_AFTER %v: want > 0 (e.g. 10s)", ErrInvalidConfig, c.IdleAfter)
	case c.SkewConfirm < 1:
		return fmt.Errorf("%w: OUTAGE_SKEW_CONFIRM %d: want >= 1", ErrInvalidConfig, c.SkewConfirm)
	case c.Tick <= 0:
		return fmt.Errorf("%w: OUTAGE_TICK %v: want > 0 (e.g. 1s)", ErrInvalidConfig, c.Tick)
	}
	return nil
}

func (c Config) detector() DetectorConfig {
	return DetectorConfig{Threshold: c.Threshold, RestoreShare: c.RestoreShare, MinMeters: c.MinMeters,
		Window: c.Window, PopulationHorizon: c.PopulationHorizon, History: c.History, MaxClockSkew: c.MaxClockSkew, SkewConfirm: c.SkewConfirm,
		IdleAfter: c.IdleAfter, WarmUp: c.WarmUp}
}

// ConfigFromEnv returns DefaultConfig overridden by the OUTAGE_*
// environment variables (see the package documentation), validated.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Float("OUTAGE_THRESHOLD", &c.Threshold)
	r.Float("OUTAGE_RESTORE_SHARE", &c.RestoreShare)
	r.Int("OUTAGE_MIN_METERS", &c.MinMeters)
	r.Duration("OUTAGE_WINDOW", &c.Window)
	r.Duration("OUTAGE_POPULATION_HORIZON", &c.PopulationHorizon)
	r.Duration("OUTAGE_HISTORY", &c.History)
	if v, ok := os.LookupEnv("OUTAGE_CHECKPOINT_DIR"); ok { // set and empty: no checkpoint
		c.CheckpointDir = v
	}
	r.Duration("OUTAGE_MAX_CLOCK_SKEW", &c.MaxClockSkew)
	r.Duration("OUTAGE_IDLE_AFTER", &c.IdleAfter)
	r.Duration("OUTAGE_WARMUP", &c.WarmUp)
	r.Int("OUTAGE_SKEW_CONFIRM", &c.SkewConfirm)
	r.Duration("OUTAGE_TICK", &c.Tick)
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
