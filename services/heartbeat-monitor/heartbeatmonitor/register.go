package heartbeatmonitor

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/lagwatch"
)

// Rivers of the heartbeat monitor, all passive: watching heartbeats is
// not a reason for anyone to keep publishing them.
const (
	RiverHeartbeats = "heartbeats"
	RiverStopping   = "stopping"
	// RiverLag reads every event type and no payload key: the monitor's
	// read progress (see package rivers/lagwatch).
	RiverLag = "lag"
)

// beatKeys is the part of system.heartbeat.v1 the monitor reads.
type beatKeys struct {
	Service         string  `json:"service"`
	Version         string  `json:"version"`
	Instance        string  `json:"instance"`
	IntervalSeconds float64 `json:"interval_s"`
}

// Register adds the heartbeat monitor to svc: a passive river of
// system.heartbeat.v1 and one of system.service.stopping.v1, a passive
// river of every type that follows the monitor's read progress, and a timer
// every cfg.CheckInterval that declares silent instances down. It publishes
// system.service.down.v1, system.service.up.v1 and
// system.monitor.lagging.v1.
//
// A heartbeat is seen at the monitor's position in the stream (the record
// time up to which it has read everything) when it reads it, and ages are
// measured between positions, never on the wall clock: neither the
// monitor's lag nor a producer's skewed clock changes them. Verdicts are
// given only while the monitor is caught up: while it is behind it withholds down verdicts and
// says so (system.monitor.lagging.v1), and says so again when it caught up.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	w := &watcher{m: NewMonitor(MonitorConfig{Misses: cfg.Misses, DefaultInterval: cfg.DefaultInterval, ForgetAfter: cfg.ForgetAfter}),
		lag:      lagwatch.Register(svc, lagwatch.Config{Tolerance: cfg.LagTolerance, Settle: cfg.LagSettle, Every: cfg.CheckInterval, River: RiverLag}),
		withheld: map[string]bool{}, late: map[string]Beat{}}
	svc.Publishes(events.TypeServiceDown, events.TypeServiceUp)
	svc.Handle(rivers.NewRiver(events.TypeHeartbeat).Named(RiverHeartbeats).Passive().
		Require("service", "instance").Interested("version", "interval_s").OnExpired(w.expired), w.heartbeat)
	svc.Handle(rivers.NewRiver(events.TypeServiceStopping).Named(RiverStopping).Passive().
		Require("instance"), w.stopping)
	svc.Every(cfg.CheckInterval, "check", w.check)
	return nil
}

// watcher serialises the monitor between the consuming goroutine, the
// expiry hook and the timer.
type watcher struct {
	lag *lagwatch.Watch

	mu       sync.Mutex
	m        *Monitor
	withheld map[string]bool // instances whose down verdict is withheld in this lag
	late     map[string]Beat // expired heartbeats of instances not known alive, announced at the next check
}

// maxLate bounds the expired heartbeats of unknown instances kept between
// two checks: a flood of forged instance names must not grow the monitor.
const maxLate = 10_000

func (w *watcher) heartbeat(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var k beatKeys
	if err := ev.Decode(&k); err != nil {
		return err
	}
	hb := events.Heartbeat{Service: k.Service, Version: k.Version, Instance: k.Instance, IntervalSeconds: k.IntervalSeconds}
	w.mu.Lock()
	trs := w.m.Beat(BeatFrom(hb, ev.OccurredAt()), w.lag.Seen(ctx))
	w.mu.Unlock()
	return publish(ctx, pub, trs)
}

// expired takes a heartbeat read after its use-by date (the monitor was
// behind) as what it is: evidence that the instance was alive, seen at the
// monitor's position. It runs ahead of the handlers and cannot publish: an
// instance not known alive (new, or back from down) is kept and announced
// up at the next check, so an instance whose every heartbeat is read late
// is still seen starting.
func (w *watcher) expired(_ context.Context, ev contracts.Event) {
	var k beatKeys
	if json.Unmarshal(ev.Data, &k) != nil || k.Service == "" || k.Instance == "" || ev.Time.IsZero() {
		return
	}
	at := w.lag.Position()
	if at.IsZero() {
		at = ev.Time
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m.Seen(k.Instance, ev.Time, at) {
		return
	}
	if _, ok := w.late[k.Instance]; ok || len(w.late) < maxLate {
		w.late[k.Instance] = Beat{Service: k.Service, Version: k.Version, Instance: k.Instance,
			Interval: time.Duration(k.IntervalSeconds * float64(time.Second)), At: ev.Time}
	}
}

func (w *watcher) stopping(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
	instance, err := ev.String("instance")
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.m.Stopping(instance, w.lag.Seen(ctx))
	w.mu.Unlock()
	return nil
}

func (w *watcher) check(ctx context.Context, now time.Time, pub rivers.Publisher) error {
	at, ok := w.lag.Judge(now)
	w.mu.Lock()
	if !ok {
		// Behind: what looks overdue by the wall clock may be unread.
		// Withhold, and count the instances a wall-clock judge would have
		// declared down.
		n := 0
		for _, id := range w.m.Overdue(now) {
			if !w.withheld[id] {
				w.withheld[id] = true
				n++
			}
		}
		w.mu.Unlock()
		w.lag.Withhold(n)
		return nil
	}
	clear(w.withheld)
	var trs []Transition
	for _, id := range slices.Sorted(maps.Keys(w.late)) {
		trs = append(trs, w.m.Beat(w.late[id], at)...)
	}
	clear(w.late)
	trs = append(trs, w.m.Check(at)...)
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
