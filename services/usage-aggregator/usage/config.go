package usage

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"os"
	"time"
)

// Name is the service name: its source is /services/usage-aggregator.
const Name = "usage-aggregator"

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("usage: invalid config")

// Config is the usage aggregator's configuration. Durations named "event
// time" are measured on the readings' clock (read_at), not the wall clock.
type Config struct {
	// Lateness is how far the event-time watermark must pass a period's end
	// before the period closes and is published. Default 1h.
	// USAGE_LATENESS.
	Lateness time.Duration
	// Horizon is how long (event time) reads are kept for corrections: a
	// read older than the watermark minus Horizon is dropped as too late.
	// Default 26h (yesterday's daily figure can still be corrected).
	// USAGE_HORIZON.
	Horizon time.Duration
	// MaxClockSkew and SkewConfirm guard the watermark against a meter with
	// a wrong clock (see the package documentation). Default 2h, 100.
	// USAGE_MAX_CLOCK_SKEW, USAGE_SKEW_CONFIRM.
	MaxClockSkew time.Duration
	SkewConfirm  int
	// IdleAfter: a rapids partition read to its end whose meters all fell
	// silent stops holding the watermark back once this much newer record
	// time (the broker's clock) was read from the other partitions. A
	// partition with records still to read is never idle, however far
	// behind: lag delays a closing, it never closes early. Default 10s.
	// USAGE_IDLE_AFTER.
	IdleAfter time.Duration
	// TimeZone of the daily periods (IANA name). Default "UTC".
	// USAGE_TIME_ZONE.
	TimeZone string
	// Tick is the wall-clock period of the timer that closes periods.
	// Default 1s. USAGE_TICK.
	Tick time.Duration
	// CheckpointDir is ignored: the state is rebuilt by replay (see
	// Service.Stopped). It held the final checkpoint a clean stop saved and the
	// next start restores (Service.Stopped). Empty: none, a restart starts
	// empty. USAGE_CHECKPOINT_DIR.
	CheckpointDir string
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Lateness:     time.Hour,
		Horizon:      26 * time.Hour,
		MaxClockSkew: 2 * time.Hour,
		SkewConfirm:  100,
		IdleAfter:    10 * time.Second,
		TimeZone:     "UTC",
		Tick:         time.Second,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	_, err := time.LoadLocation(c.TimeZone)
	switch {
	case c.Lateness <= 0:
		return fmt.Errorf("%w: USAGE_LATENESS %v: want > 0 (e.g. 1h)", ErrInvalidConfig, c.Lateness)
	case c.Horizon < c.Lateness+time.Hour:
		return fmt.Errorf("%w: USAGE_HORIZON %v: want >= USAGE_LATENESS + 1h (%v)", ErrInvalidConfig, c.Horizon, c.Lateness+time.Hour)
	case c.MaxClockSkew <= 0:
		return fmt.Errorf("%w: USAGE_MAX_CLOCK_SKEW %v: want > 0 (e.g. 2h)", ErrInvalidConfig, c.MaxClockSkew)
	case c.IdleAfter <= 0:
		return fmt.Errorf("%w: USAGE_IDLE_AFTER %v: want > 0 (e.g. 10s)", ErrInvalidConfig, c.IdleAfter)
	case c.SkewConfirm < 1:
		return fmt.Errorf("%w: USAGE_SKEW_CONFIRM %d: want >= 1", ErrInvalidConfig, c.SkewConfirm)
	case c.TimeZone == "" || err != nil:
		return fmt.Errorf("%w: USAGE_TIME_ZONE %q: want an IANA zone such as UTC or Europe/London", ErrInvalidConfig, c.TimeZone)
	case c.Tick <= 0:
		return fmt.Errorf("%w: USAGE_TICK %v: want > 0 (e.g. 1s)", ErrInvalidConfig, c.Tick)
	}
	return nil
}

func (c Config) aggregator() (AggregatorConfig, error) {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return AggregatorConfig{}, fmt.Errorf("%w: USAGE_TIME_ZONE %q: %w", ErrInvalidConfig, c.TimeZone, err)
	}
	return AggregatorConfig{Lateness: c.Lateness, Horizon: c.Horizon, MaxClockSkew: c.MaxClockSkew,
		SkewConfirm: c.SkewConfirm, IdleAfter: c.IdleAfter, Location: loc}, nil
}

// ConfigFromEnv returns DefaultConfig overridden by the USAGE_*
// environment variables (see the package documentation), validated.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Duration("USAGE_LATENESS", &c.Lateness)
	r.Duration("USAGE_HORIZON", &c.Horizon)
	r.Duration("USAGE_MAX_CLOCK_SKEW", &c.MaxClockSkew)
	r.Duration("USAGE_IDLE_AFTER", &c.IdleAfter)
	r.Duration("USAGE_TICK", &c.Tick)
	r.Int("USAGE_SKEW_CONFIRM", &c.SkewConfirm)
	r.String("USAGE_TIME_ZONE", &c.TimeZone)
	if v, ok := os.LookupEnv("USAGE_CHECKPOINT_DIR"); ok { // set and empty: no checkpoint
		c.CheckpointDir = v
	}
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
