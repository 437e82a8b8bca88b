package registry

import (
	"errors"
	"fmt"
	"time"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/env"
	"github.com/watershed-grid/watershed/rivers/lagwatch"
	"github.com/watershed-grid/watershed/rivers/landscape"
)

// Name is the service's name.
const Name = "registry"

// Config is the registry service's configuration.
type Config struct {
	// InstanceTTL: an instance without a heartbeat this long is dropped.
	// Default 30s (REGISTRY_INSTANCE_TTL).
	InstanceTTL time.Duration
	// ExpireInterval is how often silent instances are dropped. Default 5s
	// (REGISTRY_EXPIRE_INTERVAL).
	ExpireInterval time.Duration
	// LagTolerance: how long records may stay behind the last one the
	// registry read in a partition before it is behind and drops nobody.
	// Default 2s (REGISTRY_LAG_TOLERANCE).
	LagTolerance time.Duration
	// LagSettle: how long the registry must have been caught up before it
	// drops silent instances again. Default 5s (REGISTRY_LAG_SETTLE).
	LagSettle time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{InstanceTTL: 30 * time.Second, ExpireInterval: 5 * time.Second, LagTolerance: 2 * time.Second, LagSettle: 5 * time.Second}
}

// ConfigFromEnv reads the REGISTRY_* variables over the defaults; the
// error names every bad variable at once.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Duration("REGISTRY_INSTANCE_TTL", &c.InstanceTTL)
	r.Duration("REGISTRY_EXPIRE_INTERVAL", &c.ExpireInterval)
	r.Duration("REGISTRY_LAG_TOLERANCE", &c.LagTolerance)
	r.Duration("REGISTRY_LAG_SETTLE", &c.LagSettle)
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate reports invalid values, naming the variable.
func (c Config) Validate() error {
	var errs []error
	if c.InstanceTTL <= 0 {
		errs = append(errs, fmt.Errorf("REGISTRY_INSTANCE_TTL=%s: must be positive", c.InstanceTTL))
	}
	if c.ExpireInterval <= 0 {
		errs = append(errs, fmt.Errorf("REGISTRY_EXPIRE_INTERVAL=%s: must be positive", c.ExpireInterval))
	}
	if c.LagTolerance < 0 || c.LagSettle < 0 {
		errs = append(errs, fmt.Errorf("REGISTRY_LAG_TOLERANCE=%s, REGISTRY_LAG_SETTLE=%s: must not be negative (0: the default)", c.LagTolerance, c.LagSettle))
	}
	return errors.Join(errs...)
}

// Register adds the registry to svc: it is built from heartbeats (see
// [landscape.Watch]) and its JSON API ([Routes]) is mounted at /v1/ on the
// service's HTTP server, with the comparison of versions side by side
// (GET /v1/compare/{service}, see [Comparison]).
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	reg := landscape.New(cfg.InstanceTTL)
	landscape.Watch(svc, reg, landscape.WatchConfig{ExpireEvery: cfg.ExpireInterval, Lag: lagwatch.Config{Tolerance: cfg.LagTolerance, Settle: cfg.LagSettle}}, nil)
	routes := Routes(reg)
	c := NewComparison(0)
	WatchComparison(svc, c)
	MountCompare(routes, reg, c)
	svc.HandleHTTP("/v1/*", routes)
	return nil
}
