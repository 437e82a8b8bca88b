package gapdetector

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"time"
)

// Name is the service name: its source is /services/gap-detector.
const Name = "gap-detector"

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("gapdetector: invalid config")

// Config is the gap detector's configuration. Durations named "event
// time" are measured on the readings' clock (read_at), not the wall clock.
type Config struct {
	// Grace is how far the event-time watermark must pass a slot's expected
	// time before the slot is declared missed (event time). It also absorbs
	// the skew between partitions. Default 30m. GAP_GRACE.
	Grace time.Duration
	// MaxConsecutive bounds the missed events published per run of silence
	// of one meter (one per interval). Default 96 (a day at 15 minutes).
	// GAP_MAX_CONSECUTIVE.
	MaxConsecutive int
	// WarmUp: after a start, no missed read is published for slots expected
	// before the first read's time plus WarmUp (event time); they are judged
	// silently. Stops a restart from a stale checkpoint, or a replay,
	// flooding the rivers. Default 1h. GAP_WARMUP.
	WarmUp time.Duration
	// MaxClockSkew: a read more than this ahead of the watermark does not
	// move it (a meter with a wrong clock) and is not tracked, until
	// SkewConfirm such reads in a row show the whole stream moved. Default
	// 2h, 100. GAP_MAX_CLOCK_SKEW, GAP_SKEW_CONFIRM.
	MaxClockSkew time.Duration
	SkewConfirm  int
	// IdleAfter: a rapids partition read to its end whose meters all fell
	// silent stops holding the watermark back once the detector has read
	// this much newer records (by broker record time) from the other
	// partitions. A partition with records still to read is never idle,
	// however far behind: a slow reader delays missed reads, it does not
	// invent them. Default 10s. GAP_IDLE_AFTER.
	IdleAfter time.Duration
	// Tick is the wall-clock period of the timer that declares due slots
	// missed. Default 1s. GAP_TICK.
	Tick time.Duration
	// CheckpointEvery is the wall-clock period between checkpoints; 0
	// disables periodic checkpoints (the last one is still written at
	// shutdown when a store is set). Default 30s. GAP_CHECKPOINT_EVERY.
	CheckpointEvery time.Duration
	// CheckpointDir, when set and Checkpoints is nil, keeps checkpoints in
	// files in this directory. Default "" (see Checkpoints). GAP_CHECKPOINT_DIR.
	CheckpointDir string
	// Checkpoints, when set, is where state is saved (a Redis store from
	// ponds/hot in production). When nil and CheckpointDir is "", state is
	// kept in memory only.
	Checkpoints CheckpointStore
	// CheckpointName is the name the state is saved under. Default
	// "gap-detector". GAP_CHECKPOINT_NAME.
	CheckpointName string
	// History is how much record time of a rapids partition an instance
	// replays when the group assigns it the partition (its start, a
	// rebalance): enough for the warm-up, the grace and the longest run of
	// silence it reports (MaxConsecutive × the cadence): 26h covers 96
	// slots of 15 minutes. 0 replays everything the partition retains.
	// GAP_HISTORY.
	History time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Grace:           30 * time.Minute,
		MaxConsecutive:  96,
		WarmUp:          time.Hour,
		MaxClockSkew:    2 * time.Hour,
		SkewConfirm:     100,
		IdleAfter:       10 * time.Second,
		Tick:            time.Second,
		CheckpointEvery: 30 * time.Second,
		CheckpointName:  Name,
		History:         26 * time.Hour,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Grace <= 0:
		return fmt.Errorf("%w: GAP_GRACE %v: want > 0 (e.g. 30m)", ErrInvalidConfig, c.Grace)
	case c.MaxConsecutive < 1 || c.MaxConsecutive > maxConsecutiveLimit:
		return fmt.Errorf("%w: GAP_MAX_CONSECUTIVE %d: want 1..%d", ErrInvalidConfig, c.MaxConsecutive, maxConsecutiveLimit)
	case c.WarmUp < 0:
		return fmt.Errorf("%w: GAP_WARMUP %v: want >= 0", ErrInvalidConfig, c.WarmUp)
	case c.MaxClockSkew <= 0:
		return fmt.Errorf("%w: GAP_MAX_CLOCK_SKEW %v: want > 0 (e.g. 2h)", ErrInvalidConfig, c.MaxClockSkew)
	case c.SkewConfirm < 1:
		return fmt.Errorf("%w: GAP_SKEW_CONFIRM %d: want >= 1", ErrInvalidConfig, c.SkewConfirm)
	case c.IdleAfter <= 0:
		return fmt.Errorf("%w: GAP_IDLE_AFTER %v: want > 0 (e.g. 10s)", ErrInvalidConfig, c.IdleAfter)
	case c.Tick <= 0:
		return fmt.Errorf("%w: GAP_TICK %v: want > 0 (e.g. 1s)", ErrInvalidConfig, c.Tick)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("%w: GAP_CHECKPOINT_EVERY %v: want >= 0", ErrInvalidConfig, c.CheckpointEvery)
	case c.History < 0:
		return fmt.Errorf("%w: GAP_HISTORY %v: want >= 0 (0: all the partition retains)", ErrInvalidConfig, c.History)
	case c.CheckpointName == "":
		return fmt.Errorf("%w: GAP_CHECKPOINT_NAME is empty: set a name or unset the variable", ErrInvalidConfig)
	}
	return nil
}

func (c Config) tracker() TrackerConfig {
	return TrackerConfig{Grace: c.Grace, MaxConsecutive: c.MaxConsecutive, WarmUp: c.WarmUp,
		MaxClockSkew: c.MaxClockSkew, SkewConfirm: c.SkewConfirm, IdleAfter: c.IdleAfter, PartitionWarmUp: true}
}

// ConfigFromEnv returns DefaultConfig overridden by the GAP_* environment
// variables (see the package documentation), validated.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Duration("GAP_GRACE", &c.Grace)
	r.Int("GAP_MAX_CONSECUTIVE", &c.MaxConsecutive)
	r.Duration("GAP_WARMUP", &c.WarmUp)
	r.Duration("GAP_MAX_CLOCK_SKEW", &c.MaxClockSkew)
	r.Int("GAP_SKEW_CONFIRM", &c.SkewConfirm)
	r.Duration("GAP_IDLE_AFTER", &c.IdleAfter)
	r.Duration("GAP_TICK", &c.Tick)
	r.Duration("GAP_CHECKPOINT_EVERY", &c.CheckpointEvery)
	r.Duration("GAP_HISTORY", &c.History)
	r.String("GAP_CHECKPOINT_DIR", &c.CheckpointDir)
	r.String("GAP_CHECKPOINT_NAME", &c.CheckpointName)
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
