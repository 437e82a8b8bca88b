package usageinsights

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/rivers/bearer"
	"github.com/watershed-grid/watershed/rivers/env"
)

// Config is usage-insights' configuration beyond the SDK's. The zero value
// of a field means its default (defaults below and in README.md).
type Config struct {
	// UnusualFactor: a day is unusual above this many times its baseline
	// (INSIGHTS_UNUSUAL_FACTOR, default 3).
	UnusualFactor float64
	// BaselineDays: the baseline is the mean of up to this many earlier
	// days (INSIGHTS_BASELINE_DAYS, default 7).
	BaselineDays int
	// MinBaselineDays: fewer earlier days than this and a day has no
	// baseline (INSIGHTS_MIN_BASELINE_DAYS, default 3).
	MinBaselineDays int
	// MinCoverage: the share of its expected reads a day, and the day
	// before it, needs to be judged or to count in a baseline
	// (INSIGHTS_MIN_COVERAGE, default 0.9).
	MinCoverage float64
	// MinKWh: a day below this energy is never unusual (INSIGHTS_MIN_KWH,
	// default 1): a tiny baseline makes a tiny day look huge.
	MinKWh float64
	// KeepDays: days kept per meter, the newest (INSIGHTS_KEEP_DAYS,
	// default 35: five weeks).
	KeepDays int
	// APIToken, when set, is required as "Authorization: Bearer <token>"
	// on the API, and enables the preferences endpoint, which sends
	// commands to meters (INSIGHTS_API_TOKEN, or INSIGHTS_API_TOKEN_FILE;
	// at least 16 characters). Unset, the API serves loopback clients only.
	APIToken string
	// ReadIntervals are the read intervals, in seconds, a customer may
	// choose (INSIGHTS_READ_INTERVALS, default 300,900,1800,3600).
	ReadIntervals []int
	// CommandTTL is the use-by of the commands a preference requests
	// (INSIGHTS_COMMAND_TTL, default 1h).
	CommandTTL time.Duration
	// Store keeps the days; nil keeps them in memory (main: Redis when
	// REDIS_URL is set).
	Store Store
}

// Validate reports every invalid field, naming its variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if c.UnusualFactor != 0 && c.UnusualFactor < 1 {
		bad("INSIGHTS_UNUSUAL_FACTOR", "%v: want at least 1", c.UnusualFactor)
	}
	if c.BaselineDays < 0 {
		bad("INSIGHTS_BASELINE_DAYS", "%d: want at least 1", c.BaselineDays)
	}
	if c.MinBaselineDays < 0 {
		bad("INSIGHTS_MIN_BASELINE_DAYS", "%d: want at least 1", c.MinBaselineDays)
	}
	if c.MinCoverage < 0 || c.MinCoverage > 1 {
		bad("INSIGHTS_MIN_COVERAGE", "%v: want a share in [0, 1]", c.MinCoverage)
	}
	if c.MinKWh < 0 {
		bad("INSIGHTS_MIN_KWH", "%v: want at least 0", c.MinKWh)
	}
	if c.KeepDays < 0 {
		bad("INSIGHTS_KEEP_DAYS", "%d: want at least 1", c.KeepDays)
	}
	d := c.withDefaults()
	if d.MinBaselineDays > d.BaselineDays {
		bad("INSIGHTS_MIN_BASELINE_DAYS", "%d is more than INSIGHTS_BASELINE_DAYS (%d)", d.MinBaselineDays, d.BaselineDays)
	}
	if d.KeepDays < d.BaselineDays+2 {
		bad("INSIGHTS_KEEP_DAYS", "%d: want at least INSIGHTS_BASELINE_DAYS + 2 (%d): a day is judged with the day before it and its baseline", d.KeepDays, d.BaselineDays+2)
	}
	for _, s := range c.ReadIntervals {
		if s < 60 || s > 86400 || 86400%s != 0 {
			bad("INSIGHTS_READ_INTERVALS", "%d: want seconds between 60 and 86400 that divide a day", s)
		}
	}
	if err := bearer.Check("INSIGHTS_API_TOKEN", c.APIToken); err != nil {
		errs = append(errs, err)
	}
	if c.CommandTTL < 0 {
		bad("INSIGHTS_COMMAND_TTL", "%s: want a positive duration", c.CommandTTL)
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields with their defaults.
func (c Config) withDefaults() Config {
	if c.UnusualFactor == 0 {
		c.UnusualFactor = 3
	}
	if c.BaselineDays == 0 {
		c.BaselineDays = 7
	}
	if c.MinBaselineDays == 0 {
		c.MinBaselineDays = 3
	}
	if c.MinCoverage == 0 {
		c.MinCoverage = 0.9
	}
	if c.MinKWh == 0 {
		c.MinKWh = 1
	}
	if c.KeepDays == 0 {
		c.KeepDays = 35
	}
	if len(c.ReadIntervals) == 0 {
		c.ReadIntervals = []int{300, 900, 1800, 3600}
	}
	if c.CommandTTL == 0 {
		c.CommandTTL = time.Hour
	}
	if c.Store == nil {
		c.Store = NewMemoryStore()
	}
	return c
}

// ConfigFromEnv reads the service's variables over the defaults and
// validates the result; the error names every bad variable at once.
func ConfigFromEnv() (Config, error) {
	var c Config
	r := env.New()
	r.Float("INSIGHTS_UNUSUAL_FACTOR", &c.UnusualFactor)
	r.Int("INSIGHTS_BASELINE_DAYS", &c.BaselineDays)
	r.Int("INSIGHTS_MIN_BASELINE_DAYS", &c.MinBaselineDays)
	r.Float("INSIGHTS_MIN_COVERAGE", &c.MinCoverage)
	r.Float("INSIGHTS_MIN_KWH", &c.MinKWh)
	r.Int("INSIGHTS_KEEP_DAYS", &c.KeepDays)
	r.Duration("INSIGHTS_COMMAND_TTL", &c.CommandTTL)
	r.String("INSIGHTS_API_TOKEN", &c.APIToken)
	r.Func("INSIGHTS_API_TOKEN_FILE", func(v string) error {
		if c.APIToken != "" {
			return errors.New("set INSIGHTS_API_TOKEN or INSIGHTS_API_TOKEN_FILE, not both")
		}
		b, err := os.ReadFile(v)
		if err != nil {
			return err
		}
		c.APIToken = strings.TrimSpace(string(b))
		if c.APIToken == "" {
			return errors.New("the file is empty")
		}
		return nil
	})
	r.Func("INSIGHTS_READ_INTERVALS", func(v string) error {
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("%q: want seconds, comma-separated (300,900)", f)
			}
			if !slices.Contains(c.ReadIntervals, n) {
				c.ReadIntervals = append(c.ReadIntervals, n)
			}
		}
		return nil
	})
	return c, errors.Join(r.Err(), c.Validate())
}
