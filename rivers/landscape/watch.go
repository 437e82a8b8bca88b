package landscape

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/lagwatch"
)

// Rivers a [Watch] reads (the registry's, the demand tracker's).
// All are passive: watching heartbeats creates no demand.
const (
	RiverHeartbeats = "registry.heartbeats"
	RiverStopping   = "registry.stopping"
	// RiverLag reads every event type and no payload key: the watcher's
	// read progress (see package rivers/lagwatch).
	RiverLag = "registry.lag"
)

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
