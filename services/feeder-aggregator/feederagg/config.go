package feederagg

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"time"
)

// Name is the service name: its source is /services/feeder-aggregator.
const Name = "feeder-aggregator"

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("feederagg: invalid config")

// Config is the feeder aggregator's configuration. Durations named "event
// time" are measured on the readings' clock (read_at), not the wall clock.
type Config struct {
	// Window is the aggregation window (event time), a divisor of a day.
	// Default 15m. FEEDER_WINDOW.
	Window time.Duration
	// Lateness is how far the event-time watermark must pass a window's end
	// before it closes. Reads for a closed window are dropped (counted).
	// Default 30m. FEEDER_LATENESS.
	Lateness time.Duration
	// ExpectedHorizon: a meter counts as expected under its transformer
	// when seen within this long (event time) before the window's end.
	// Default 24h. FEEDER_EXPECTED_HORIZON.
	ExpectedHorizon time.Duration
	// MaxClockSkew and SkewConfirm guard the watermark against a meter with
	// a wrong clock. Default 2h, 100. FEEDER_MAX_CLOCK_SKEW,
	// FEEDER_SKEW_CONFIRM.
	MaxClockSkew time.Duration
	SkewConfirm  int
	// IdleAfter: a rapids partition read to its end whose meters all fell
	// silent stops holding the watermark back once this much newer record
	// time (the broker's clock) was read from the other partitions. A
	// partition with records still to read is never idle, however far
	// behind: lag delays a closing, it never closes early. Default 10s.
	// FEEDER_IDLE_AFTER.
	IdleAfter time.Duration
	// FeederWait: a feeder window still waiting for one of its expected
	// transformers closes with those that reported once the transformer
	// windows read on its rivers partition reach this far past its end
	// (event time). Default 6h. FEEDER_WAIT.
	FeederWait time.Duration
	// FeederSettle: at the start of a stream, a feeder's windows close as
	// complete only once this much record time (the broker's clock) passed
	// since its first transformer window: the transformers of the feeder's
	// other rapids partitions get that long to be seen. 0: none. Default
	// 30s. FEEDER_SETTLE.
	FeederSettle time.Duration
	// History is how much record time of a partition (rapids and rivers)
	// an instance replays when it is assigned it, to rebuild its state
	// (rivers.PartitionState). It must cover what the state needs: the
	// expected-meter horizon plus a window plus the lateness (transformer
	// level), and the horizon plus FeederWait (feeder level). Default 0:
	// ExpectedHorizon + Window + Lateness + FeederWait. FEEDER_HISTORY.
	History time.Duration
	// Tick is the wall-clock period of the timer that closes the windows
	// of fully silent partitions. Default 1s. FEEDER_TICK.
	Tick time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Window:          15 * time.Minute,
		Lateness:        30 * time.Minute,
		ExpectedHorizon: 24 * time.Hour,
		MaxClockSkew:    2 * time.Hour,
		SkewConfirm:     100,
		IdleAfter:       10 * time.Second,
		FeederWait:      6 * time.Hour,
		FeederSettle:    30 * time.Second,
		Tick:            time.Second,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Window < time.Minute || (24*time.Hour)%c.Window != 0 || c.Window%time.Second != 0:
		return fmt.Errorf("%w: FEEDER_WINDOW %v: want whole seconds, >= 1m, dividing 24h (e.g. 15m)", ErrInvalidConfig, c.Window)
	case c.Lateness < 0:
		return fmt.Errorf("%w: FEEDER_LATENESS %v: want >= 0 (e.g. 30m)", ErrInvalidConfig, c.Lateness)
	case c.ExpectedHorizon < c.Window:
		return fmt.Errorf("%w: FEEDER_EXPECTED_HORIZON %v: want >= FEEDER_WINDOW", ErrInvalidConfig, c.ExpectedHorizon)
	case c.MaxClockSkew <= 0:
		return fmt.Errorf("%w: FEEDER_MAX_CLOCK_SKEW %v: want > 0 (e.g. 2h)", ErrInvalidConfig, c.MaxClockSkew)
	case c.IdleAfter <= 0:
		return fmt.Errorf("%w: FEEDER_IDLE_AFTER %v: want > 0 (e.g. 10s)", ErrInvalidConfig, c.IdleAfter)
	case c.SkewConfirm < 1:
		return fmt.Errorf("%w: FEEDER_SKEW_CONFIRM %d: want >= 1", ErrInvalidConfig, c.SkewConfirm)
	case c.FeederWait < c.Window:
		return fmt.Errorf("%w: FEEDER_WAIT %v: want >= FEEDER_WINDOW", ErrInvalidConfig, c.FeederWait)
	case c.FeederSettle < 0:
		return fmt.Errorf("%w: FEEDER_SETTLE %v: want >= 0 (e.g. 30s)", ErrInvalidConfig, c.FeederSettle)
	case c.History < 0:
		return fmt.Errorf("%w: FEEDER_HISTORY %v: want >= 0 (0: horizon + window + lateness + wait)", ErrInvalidConfig, c.History)
	case c.Tick <= 0:
		return fmt.Errorf("%w: FEEDER_TICK %v: want > 0 (e.g. 1s)", ErrInvalidConfig, c.Tick)
	}
	return nil
}

// history is the record time replayed on assignment (History, or what the
// state needs).
func (c Config) history() time.Duration {
	if c.History > 0 {
		return c.History
	}
	return c.ExpectedHorizon + c.Window + c.Lateness + c.FeederWait
}

func (c Config) feeders() FeederConfig {
	return FeederConfig{Window: c.Window, ExpectedHorizon: c.ExpectedHorizon, Wait: c.FeederWait, Settle: c.FeederSettle}
}

func (c Config) aggregator() AggregatorConfig {
	return AggregatorConfig{Window: c.Window, Lateness: c.Lateness, ExpectedHorizon: c.ExpectedHorizon,
		MaxClockSkew: c.MaxClockSkew, SkewConfirm: c.SkewConfirm, IdleAfter: c.IdleAfter}
}

// ConfigFromEnv returns DefaultConfig overridden by the FEEDER_*
// environment variables (see the package documentation), validated.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Duration("FEEDER_WINDOW", &c.Window)
	r.Duration("FEEDER_LATENESS", &c.Lateness)
	r.Duration("FEEDER_EXPECTED_HORIZON", &c.ExpectedHorizon)
	r.Duration("FEEDER_MAX_CLOCK_SKEW", &c.MaxClockSkew)
	r.Duration("FEEDER_IDLE_AFTER", &c.IdleAfter)
	r.Duration("FEEDER_WAIT", &c.FeederWait)
	r.Duration("FEEDER_HISTORY", &c.History)
	r.Duration("FEEDER_SETTLE", &c.FeederSettle)
	r.Duration("FEEDER_TICK", &c.Tick)
	r.Int("FEEDER_SKEW_CONFIRM", &c.SkewConfirm)
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
