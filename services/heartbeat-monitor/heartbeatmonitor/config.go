package heartbeatmonitor

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"time"
)

// Name is the service's name.
const Name = "heartbeat-monitor"

// Config is the heartbeat monitor's configuration.
type Config struct {
	// Misses: heartbeat intervals without a heartbeat before an instance is
	// down. Default 3 (HEARTBEAT_MISSES).
	Misses int
	// DefaultInterval is assumed for heartbeats without interval_s.
	// Default 5s (HEARTBEAT_DEFAULT_INTERVAL).
	DefaultInterval time.Duration
	// CheckInterval is how often the monitor looks for silent instances; a
	// down is reported at most this late. Default 1s (HEARTBEAT_CHECK_INTERVAL).
	CheckInterval time.Duration
	// ForgetAfter drops instances down or stopped this long. Default 1h
	// (HEARTBEAT_FORGET_AFTER).
	ForgetAfter time.Duration
	// LagTolerance: how long records may stay behind the last one the
	// monitor read in a partition before it is behind and withholds down
	// verdicts. Default 2s (HEARTBEAT_LAG_TOLERANCE).
	LagTolerance time.Duration
	// LagSettle: how long the monitor must have been caught up before it
	// judges again. Default 5s (HEARTBEAT_LAG_SETTLE).
	LagSettle time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Misses: 3, DefaultInterval: 5 * time.Second, CheckInterval: time.Second, ForgetAfter: time.Hour,
		LagTolerance: 2 * time.Second, LagSettle: 5 * time.Second}
}

// ConfigFromEnv reads the HEARTBEAT_* variables over the defaults.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Int("HEARTBEAT_MISSES", &c.Misses)
	r.Duration("HEARTBEAT_DEFAULT_INTERVAL", &c.DefaultInterval)
	r.Duration("HEARTBEAT_CHECK_INTERVAL", &c.CheckInterval)
	r.Duration("HEARTBEAT_FORGET_AFTER", &c.ForgetAfter)
	r.Duration("HEARTBEAT_LAG_TOLERANCE", &c.LagTolerance)
	r.Duration("HEARTBEAT_LAG_SETTLE", &c.LagSettle)
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate reports invalid values, naming the variable.
func (c Config) Validate() error {
	var errs []error
	if c.Misses < 1 {
		errs = append(errs, fmt.Errorf("HEARTBEAT_MISSES=%d: must be at least 1", c.Misses))
	}
	if c.DefaultInterval <= 0 {
		errs = append(errs, fmt.Errorf("HEARTBEAT_DEFAULT_INTERVAL=%s: must be positive", c.DefaultInterval))
	}
	if c.CheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("HEARTBEAT_CHECK_INTERVAL=%s: must be positive", c.CheckInterval))
	}
	if c.ForgetAfter <= 0 {
		errs = append(errs, fmt.Errorf("HEARTBEAT_FORGET_AFTER=%s: must be positive", c.ForgetAfter))
	}
	if c.LagTolerance <= 0 {
		errs = append(errs, fmt.Errorf("HEARTBEAT_LAG_TOLERANCE=%s: must be positive", c.LagTolerance))
	}
	if c.LagSettle <= 0 {
		errs = append(errs, fmt.Errorf("HEARTBEAT_LAG_SETTLE=%s: must be positive", c.LagSettle))
	}
	return errors.Join(errs...)
}
