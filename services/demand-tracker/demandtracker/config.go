package demandtracker

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// Name is the service's name.
const Name = "demand-tracker"

// Config is the demand tracker's configuration.
type Config struct {
	// Idle: no active subscriber for this long → notice. Default 10m (DEMAND_IDLE).
	Idle time.Duration
	// Grace: notice → retired after this long. Default 10m (DEMAND_GRACE).
	Grace time.Duration
	// Essential types are never retired: exact types or "prefix.*",
	// comma-separated (DEMAND_ESSENTIAL). system.* is always essential.
	Essential []string
	// Resend: how often a retirement is repeated to a producer that still
	// publishes the type. Default 1m (DEMAND_RESEND).
	Resend time.Duration
	// Evaluate is how often decisions are made. Default 5s (DEMAND_EVALUATE_INTERVAL).
	Evaluate time.Duration
	// InstanceTTL: an instance silent this long no longer counts as a
	// producer or subscriber. Default 30s (DEMAND_INSTANCE_TTL).
	InstanceTTL time.Duration
	// CountVolume: read the rivers passively to count events per type and
	// producer, and what of it was consumed. Default true (DEMAND_COUNT_VOLUME).
	CountVolume bool
	// LagTolerance: how long records may stay behind the last one the
	// tracker read in a partition before it is behind: it then decides no
	// retirement and drops no instance. Default 2s (DEMAND_LAG_TOLERANCE).
	LagTolerance time.Duration
	// LagSettle: how long the tracker must have been caught up before it
	// decides again. Default 5s (DEMAND_LAG_SETTLE).
	LagSettle time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Idle: 10 * time.Minute, Grace: 10 * time.Minute, Resend: time.Minute, Evaluate: 5 * time.Second,
		InstanceTTL: 30 * time.Second, CountVolume: true, LagTolerance: 2 * time.Second, LagSettle: 5 * time.Second}
}

// ConfigFromEnv reads the DEMAND_* variables over the defaults.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Duration("DEMAND_IDLE", &c.Idle)
	r.Duration("DEMAND_GRACE", &c.Grace)
	r.Duration("DEMAND_RESEND", &c.Resend)
	r.Duration("DEMAND_EVALUATE_INTERVAL", &c.Evaluate)
	r.Duration("DEMAND_INSTANCE_TTL", &c.InstanceTTL)
	r.Duration("DEMAND_LAG_TOLERANCE", &c.LagTolerance)
	r.Duration("DEMAND_LAG_SETTLE", &c.LagSettle)
	var essential []string
	r.List("DEMAND_ESSENTIAL", &essential)
	c.Essential = append(c.Essential, essential...)
	r.Func("DEMAND_COUNT_VOLUME", func(v string) error {
		switch strings.ToLower(v) {
		case "true", "1", "yes":
			c.CountVolume = true
		case "false", "0", "no":
			c.CountVolume = false
		default:
			return errors.New("want true or false")
		}
		return nil
	})
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate reports invalid values, naming the variable.
func (c Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{"DEMAND_IDLE": c.Idle, "DEMAND_GRACE": c.Grace, "DEMAND_RESEND": c.Resend,
		"DEMAND_EVALUATE_INTERVAL": c.Evaluate, "DEMAND_INSTANCE_TTL": c.InstanceTTL,
		"DEMAND_LAG_TOLERANCE": c.LagTolerance, "DEMAND_LAG_SETTLE": c.LagSettle} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%s: must be positive", name, d))
		}
	}
	for _, e := range c.Essential {
		if strings.Contains(strings.TrimSuffix(e, "*"), "*") {
			errs = append(errs, fmt.Errorf("DEMAND_ESSENTIAL: %q: only a trailing * is allowed", e))
		}
	}
	return errors.Join(errs...)
}

// TrackerConfig returns the tracker settings of c.
func (c Config) TrackerConfig() TrackerConfig {
	return TrackerConfig{Idle: c.Idle, Grace: c.Grace, Essential: c.Essential, Resend: c.Resend}
}

// Payload returns the system.retirement.v1 payload of a decision.
func Payload(d Decision) events.Retirement {
	return events.Retirement{Service: d.Service, EventType: d.Type, Phase: string(d.Phase), GraceSeconds: d.Grace.Seconds(),
		EffectiveAt: d.EffectiveAt.UTC(), Reason: d.Reason, Subscribers: d.Subscribers, LastDemandAt: d.LastDemandAt.UTC(),
		DecidedAt: d.DecidedAt.UTC()}
}
