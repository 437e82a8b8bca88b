package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/lagwatch"
)

// Name is the service's name.
const Name = "registry"

// Rivers the registry (and services embedding one, see [Watch]) read.
// All are passive: watching heartbeats creates no demand.
const (
	RiverHeartbeats = "registry.heartbeats"
	RiverStopping   = "registry.stopping"
	// RiverLag reads every event type and no payload key: the watcher's
	// read progress (see package rivers/lagwatch).
	RiverLag = "registry.lag"
)

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
	dur("REGISTRY_LAG_TOLERANCE", &c.LagTolerance)
	dur("REGISTRY_LAG_SETTLE", &c.LagSettle)
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
	if c.LagTolerance < 0 || c.LagSettle < 0 {
		errs = append(errs, fmt.Errorf("REGISTRY_LAG_TOLERANCE=%s, REGISTRY_LAG_SETTLE=%s: must not be negative (0: the default)", c.LagTolerance, c.LagSettle))
	}
	return errors.Join(errs...)
}

// Register adds the registry to svc: it is built from heartbeats (see
// [Watch]) and its JSON API ([Registry.Routes]) is mounted at /v1/ on the
// service's HTTP server, with the comparison of versions side by side
// (GET /v1/compare/{service}, see [Comparison]).
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	reg := New(cfg.InstanceTTL)
	Watch(svc, reg, WatchConfig{ExpireEvery: cfg.ExpireInterval, Lag: lagwatch.Config{Tolerance: cfg.LagTolerance, Settle: cfg.LagSettle}}, nil)
	routes := reg.Routes()
	c := NewComparison(0)
	WatchComparison(svc, c)
	MountCompare(routes, reg, c)
	svc.HandleHTTP("/v1/*", routes)
	return nil
}

// heartbeatKeys are the members of system.heartbeat.v1 a registry reads.
var heartbeatKeys = []string{"version", "started_at", "uptime_s", "interval_s", "publishes", "subscribes",
	"retired", "retiring", "lag_records", "last_processed_at", "processed_total", "dead_lettered_total", "expired_total", "ready"}

// WatchConfig configures [Watch].
type WatchConfig struct {
	// ExpireEvery is how often silent instances are dropped.
	ExpireEvery time.Duration
	// Lag tunes how the watcher tells it is behind (see package
	// rivers/lagwatch); its River defaults to [RiverLag].
	Lag lagwatch.Config
}

// Watch feeds reg from svc's passive rivers of system.heartbeat.v1 and
// system.service.stopping.v1, and drops silent instances every
// cfg.ExpireEvery. changed, when not nil, is called on the consuming
// goroutine after each heartbeat or stop was applied (the demand tracker
// evaluates then).
//
// Silence is judged on the watcher's position in the stream (the record
// time up to which it has read everything), not the wall clock: a
// heartbeat is seen at the position when it is read, and instances expire
// when the position has moved on by the TTL, so neither the watcher's lag
// nor a producer's skewed clock changes the verdict. While the
// watcher is behind it drops nobody (an instance whose heartbeats it has
// not read yet is not gone) and publishes system.monitor.lagging.v1; the
// returned [lagwatch.Watch] tells callers the same. Heartbeats read after
// their use-by date, which the SDK drops before any handler, still
// register their instance.
func Watch(svc *rivers.Service, reg *Registry, cfg WatchConfig, changed func(ctx context.Context, now time.Time, pub rivers.Publisher) error) *lagwatch.Watch {
	if cfg.Lag.River == "" {
		cfg.Lag.River = RiverLag
	}
	lag := lagwatch.Register(svc, cfg.Lag)
	svc.Handle(rivers.NewRiver(events.TypeHeartbeat).Named(RiverHeartbeats).Passive().
		Require("service", "instance").Interested(heartbeatKeys...).
		OnExpired(func(_ context.Context, ev contracts.Event) {
			var hb events.Heartbeat
			if json.Unmarshal(ev.Data, &hb) != nil || ev.Time.IsZero() {
				return
			}
			at := lag.Position()
			if at.IsZero() {
				at = ev.Time
			}
			reg.Observe(FromEvent(hb), at)
		}),
		func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
			var hb events.Heartbeat
			if err := ev.Decode(&hb); err != nil {
				return err
			}
			if !reg.Observe(FromEvent(hb), lag.Seen(ctx)) || changed == nil {
				return nil
			}
			return changed(ctx, rivers.Now(ctx), pub)
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
			return changed(ctx, rivers.Now(ctx), pub)
		})
	var mu sync.Mutex
	withheld := map[string]bool{}
	svc.Every(cfg.ExpireEvery, "registry.expire", func(_ context.Context, now time.Time, _ rivers.Publisher) error {
		at, ok := lag.Judge(now)
		mu.Lock()
		defer mu.Unlock()
		if !ok {
			n := 0
			for _, id := range reg.Stale(now) {
				if !withheld[id] {
					withheld[id] = true
					n++
				}
			}
			lag.Withhold(n)
			return nil
		}
		clear(withheld)
		reg.Expire(at)
		return nil
	})
	return lag
}
