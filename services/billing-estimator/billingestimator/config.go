package billingestimator

import (
	"errors"
	"fmt"
	"time"

	"github.com/watershed-grid/watershed/rivers/env"
)

// Config is billing-estimator's own configuration. The zero value of a
// field means its default.
type Config struct {
	// Method this instance answers estimate needs with: interpolation or
	// profile (ESTIMATOR_METHOD, default interpolation).
	Method string
	// Ask makes this instance the asker: it turns missed reads into
	// estimate needs, publishes the best answers, the true-ups and the
	// billing periods (ESTIMATOR_ASK, default true). Exactly one version
	// of the estimator should ask; the others only answer.
	Ask *bool
	// Deadline is how long the asker collects answers to a need
	// (ESTIMATOR_DEADLINE, default 5s, service clock).
	Deadline time.Duration
	// Expect decides a need as soon as this many answers came, before the
	// deadline (ESTIMATOR_EXPECT, default 0: always wait for the deadline).
	Expect int
	// Hold is how much event time a missed read waits for the meter's next
	// read, which brackets the gap, before it is estimated without it: once
	// the gap detector reports the meter still silent Hold after the read
	// (ESTIMATOR_HOLD, default 2h).
	Hold time.Duration
	// History is how much record time of its partitions (readings on the
	// rapids; missed reads and its own needs, estimates, true-ups and
	// billing periods on the rivers) an instance replays when the group
	// assigns them, at every start, to rebuild its state
	// (ESTIMATOR_HISTORY, default DefaultHistory; negative: everything
	// retained). It must cover the longest thing the state remembers: a
	// month and its correction days (the month's days as published).
	History time.Duration
}

// Defaults.
const (
	DefaultDeadline = 5 * time.Second
	DefaultHold     = 2 * time.Hour
	// DefaultHistory covers a 31-day month, its keepDays of corrections
	// and the day being read: the billing month's days are rebuilt from
	// the day periods published, the open days from the readings.
	DefaultHistory = (31 + keepDays + 1) * 24 * time.Hour
)

func (c Config) withDefaults() Config {
	if c.Method == "" {
		c.Method = MethodInterpolation
	}
	if c.Ask == nil {
		t := true
		c.Ask = &t
	}
	if c.Deadline == 0 {
		c.Deadline = DefaultDeadline
	}
	if c.Hold == 0 {
		c.Hold = DefaultHold
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	return c
}

// Validate reports every invalid field, naming its variable.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if _, ok := Estimators[c.Method]; !ok {
		errs = append(errs, fmt.Errorf("ESTIMATOR_METHOD=%q: want %s or %s", c.Method, MethodInterpolation, MethodProfile))
	}
	if c.Deadline < 0 {
		errs = append(errs, fmt.Errorf("ESTIMATOR_DEADLINE=%s: must be positive", c.Deadline))
	}
	if c.Expect < 0 {
		errs = append(errs, fmt.Errorf("ESTIMATOR_EXPECT=%d: must be 0 or more", c.Expect))
	}
	if c.Hold < 0 {
		errs = append(errs, fmt.Errorf("ESTIMATOR_HOLD=%s: must be positive", c.Hold))
	}
	return errors.Join(errs...)
}

// ConfigFromEnv reads the ESTIMATOR_* variables over the defaults and
// validates the result; the error names every bad variable at once.
func ConfigFromEnv() (Config, error) {
	c := Config{}.withDefaults()
	r := env.New()
	r.String("ESTIMATOR_METHOD", &c.Method)
	r.Bool("ESTIMATOR_ASK", c.Ask)
	r.Duration("ESTIMATOR_DEADLINE", &c.Deadline)
	r.Int("ESTIMATOR_EXPECT", &c.Expect)
	r.Duration("ESTIMATOR_HOLD", &c.Hold)
	r.Duration("ESTIMATOR_HISTORY", &c.History)
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}
