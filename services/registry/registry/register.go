package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name.
const Name = "registry"

// Rivers the registry (and services embedding one, see [Watch]) read.
// Both are passive: watching heartbeats creates no demand.
const (
	RiverHeartbeats = "registry.heartbeats"
	RiverStopping   = "registry.stopping"
)

// Config is the registry service's configuration.
type Config struct {
	// InstanceTTL: an instance without a heartbeat this long is dropped.
	// Default 30s (REGISTRY_INSTANCE_TTL).
	InstanceTTL time.Duration
	// ExpireInterval is how often silent instances are dropped. Default 5s
	// (REGISTRY_EXPIRE_INTERVAL).
	ExpireInterval time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{InstanceTTL: 30 * time.Second, ExpireInterval: 5 * time.Second}
}

// ConfigFromEnv reads the REGISTRY_* variables over the defaults.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	var errs []error
	dur := func(name string, into *time.Duration) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want a duration such as 30s", name, v))
			}
			*into = d
		}
	}
	dur("REGISTRY_INSTANCE_TTL", &c.InstanceTTL)
	dur("REGISTRY_EXPIRE_INTERVAL", &c.ExpireInterval)
	if err := errors.Join(errs...); err != nil {
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
	return errors.Join(errs...)
}

// Register adds the registry to svc: it is built from heartbeats (see
// [Watch]) and its JSON API ([Registry.Routes]) is mounted at /v1/ on the
// service's HTTP server.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	reg := New(cfg.InstanceTTL)
	Watch(svc, reg, cfg.ExpireInterval, nil)
	svc.HandleHTTP("/v1/*", reg.Routes())
	return nil
}

// heartbeatKeys are the members of system.heartbeat.v1 a registry reads.
var heartbeatKeys = []string{"version", "started_at", "uptime_s", "interval_s", "publishes", "subscribes",
	"retired", "lag_records", "last_processed_at", "processed_total", "dead_lettered_total", "expired_total", "ready"}

// Watch feeds reg from svc's passive rivers of system.heartbeat.v1 and
// system.service.stopping.v1, and drops silent instances every
// expireEvery. changed, when not nil, is called on the consuming goroutine
// after each heartbeat or stop was applied (the demand tracker evaluates
// then).
func Watch(svc *rivers.Service, reg *Registry, expireEvery time.Duration, changed func(ctx context.Context, now time.Time, pub rivers.Publisher) error) {
	svc.Handle(rivers.NewRiver(events.TypeHeartbeat).Named(RiverHeartbeats).Passive().
		Require("service", "instance").Interested(heartbeatKeys...),
		func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
			var hb events.Heartbeat
			if err := ev.Decode(&hb); err != nil {
				return err
			}
			now := time.Now()
			if !reg.Observe(FromEvent(hb), now) || changed == nil {
				return nil
			}
			return changed(ctx, now, pub)
		})
	svc.Handle(rivers.NewRiver(events.TypeServiceStopping).Named(RiverStopping).Passive().Require("instance"),
		func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
			instance, err := ev.String("instance")
			if err != nil {
				return err
			}
			reg.Remove(instance)
			if changed == nil {
				return nil
			}
			return changed(ctx, time.Now(), pub)
		})
	svc.Every(expireEvery, "registry.expire", func(_ context.Context, now time.Time, _ rivers.Publisher) error {
		reg.Expire(now)
		return nil
	})
}
