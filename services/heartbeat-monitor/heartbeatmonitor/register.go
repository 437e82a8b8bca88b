package heartbeatmonitor

import (
	"context"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Rivers of the heartbeat monitor, both passive: watching heartbeats is
// not a reason for anyone to keep publishing them.
const (
	RiverHeartbeats = "heartbeats"
	RiverStopping   = "stopping"
)

// beatKeys is the part of system.heartbeat.v1 the monitor reads.
type beatKeys struct {
	Service         string  `json:"service"`
	Version         string  `json:"version"`
	Instance        string  `json:"instance"`
	IntervalSeconds float64 `json:"interval_s"`
}

// Register adds the heartbeat monitor to svc: a passive river of
// system.heartbeat.v1 and one of system.service.stopping.v1, and a timer
// every cfg.CheckInterval that declares silent instances down. It
// publishes system.service.down.v1 and system.service.up.v1.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	w := &watcher{m: NewMonitor(MonitorConfig{Misses: cfg.Misses, DefaultInterval: cfg.DefaultInterval, ForgetAfter: cfg.ForgetAfter}), now: time.Now}
	svc.Publishes(events.TypeServiceDown, events.TypeServiceUp)
	svc.Handle(rivers.NewRiver(events.TypeHeartbeat).Named(RiverHeartbeats).Passive().
		Require("service", "instance").Interested("version", "interval_s"), w.heartbeat)
	svc.Handle(rivers.NewRiver(events.TypeServiceStopping).Named(RiverStopping).Passive().
		Require("instance"), w.stopping)
	svc.Every(cfg.CheckInterval, "check", w.check)
	return nil
}

// watcher serialises the monitor between the consuming goroutine and the
// timer.
type watcher struct {
	mu  sync.Mutex
	m   *Monitor
	now func() time.Time
}

func (w *watcher) heartbeat(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var k beatKeys
	if err := ev.Decode(&k); err != nil {
		return err
	}
	hb := events.Heartbeat{Service: k.Service, Version: k.Version, Instance: k.Instance, IntervalSeconds: k.IntervalSeconds}
	w.mu.Lock()
	trs := w.m.Beat(BeatFrom(hb, ev.OccurredAt()), w.now())
	w.mu.Unlock()
	return publish(ctx, pub, trs)
}

func (w *watcher) stopping(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
	instance, err := ev.String("instance")
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.m.Stopping(instance, w.now())
	w.mu.Unlock()
	return nil
}

func (w *watcher) check(ctx context.Context, now time.Time, pub rivers.Publisher) error {
	w.mu.Lock()
	trs := w.m.Check(now)
	w.mu.Unlock()
	return publish(ctx, pub, trs)
}

func publish(ctx context.Context, pub rivers.Publisher, trs []Transition) error {
	for _, tr := range trs {
		typ, payload := Payload(tr)
		rivers.Logger(ctx).Info("liveness change", "kind", tr.Kind, "reason", tr.Reason,
			"service", tr.Service, "instance", tr.Instance, "previous_instance", tr.PreviousInstance)
		if err := pub.Publish(ctx, typ, payload, rivers.WithKey(tr.Service)); err != nil {
			return err
		}
	}
	return nil
}
