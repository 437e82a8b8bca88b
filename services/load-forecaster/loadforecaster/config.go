package loadforecaster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/rivers/env"
)

// Config is load-forecaster's configuration beyond the SDK's. The zero
// value of a field means its default (README.md lists them).
type Config struct {
	// Models run, each publishing its own forecast (FORECAST_MODELS,
	// default seasonal_naive,day_type_profile).
	Models []string
	// ProfileDays: same-type days averaged per hour by day_type_profile
	// (FORECAST_PROFILE_DAYS, default 5).
	ProfileDays int
	// LookBackDays: days searched for them (FORECAST_LOOKBACK_DAYS,
	// default 21).
	LookBackDays int
	// LevelHours: hours before the issue the level is taken from
	// (FORECAST_LEVEL_HOURS, default 3).
	LevelHours int
	// TimeZone decides weekdays and weekends (FORECAST_TIME_ZONE, an IANA
	// name, default UTC).
	TimeZone *time.Location
	// KeepDays: days of hourly history kept per feeder (FORECAST_KEEP_DAYS,
	// default 28; at least FORECAST_LOOKBACK_DAYS + 1).
	KeepDays int
	// Store keeps the history; nil keeps it in memory (main: Redis when
	// REDIS_URL is set).
	Store Store
}

// Validate reports every invalid field, naming its variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	for _, m := range c.Models {
		if !slices.Contains(Models, m) {
			bad("FORECAST_MODELS", "%q: want some of %s", m, strings.Join(Models, ","))
		}
	}
	for name, v := range map[string]int{"FORECAST_PROFILE_DAYS": c.ProfileDays, "FORECAST_LOOKBACK_DAYS": c.LookBackDays,
		"FORECAST_LEVEL_HOURS": c.LevelHours, "FORECAST_KEEP_DAYS": c.KeepDays} {
		if v < 0 {
			bad(name, "%d: want at least 1", v)
		}
	}
	d := c.withDefaults()
	if d.KeepDays < d.LookBackDays+1 {
		bad("FORECAST_KEEP_DAYS", "%d: want at least FORECAST_LOOKBACK_DAYS + 1 (%d)", d.KeepDays, d.LookBackDays+1)
	}
	if d.LevelHours > 24 {
		bad("FORECAST_LEVEL_HOURS", "%d: want at most 24", d.LevelHours)
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if len(c.Models) == 0 {
		c.Models = Models
	}
	if c.ProfileDays == 0 {
		c.ProfileDays = 5
	}
	if c.LookBackDays == 0 {
		c.LookBackDays = 21
	}
	if c.LevelHours == 0 {
		c.LevelHours = 3
	}
	if c.TimeZone == nil {
		c.TimeZone = time.UTC
	}
	if c.KeepDays == 0 {
		c.KeepDays = 28
	}
	if c.Store == nil {
		c.Store = NewMemoryStore()
	}
	return c
}

func (c Config) profile() profileParams {
	return profileParams{Days: c.ProfileDays, LookBack: c.LookBackDays, Level: c.LevelHours, Loc: c.TimeZone}
}

// ConfigFromEnv reads the service's variables over the defaults and
// validates the result; the error names every bad variable at once.
func ConfigFromEnv() (Config, error) {
	var c Config
	r := env.New()
	r.Func("FORECAST_MODELS", func(v string) error {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				c.Models = append(c.Models, m)
			}
		}
		return nil
	})
	r.Int("FORECAST_PROFILE_DAYS", &c.ProfileDays)
	r.Int("FORECAST_LOOKBACK_DAYS", &c.LookBackDays)
	r.Int("FORECAST_LEVEL_HOURS", &c.LevelHours)
	r.Int("FORECAST_KEEP_DAYS", &c.KeepDays)
	r.Func("FORECAST_TIME_ZONE", func(v string) error {
		loc, err := time.LoadLocation(v)
		if err != nil {
			return fmt.Errorf("want an IANA time zone such as Europe/Oslo: %w", err)
		}
		c.TimeZone = loc
		return nil
	})
	return c, errors.Join(r.Err(), c.Validate())
}
