package demandtracker

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/lagwatch"
	"github.com/watershed-grid/watershed/rivers/landscape"
)

// RiverVolume is the passive river of every event type on the rivers
// topic that [Volume] counts (when Config.CountVolume).
const RiverVolume = "volume"

// Report is what GET /v1/demand serves.
type Report struct {
	// Lagging: the tracker is behind in the rivers; the view may miss
	// what it has not read yet, and no retirement is decided.
	Lagging bool         `json:"lagging"`
	Types   []TypeStatus `json:"types"`
	Volume  []TypeVolume `json:"volume"`
}

// Register adds the demand tracker to svc: the demand graph from
// heartbeats (passive rivers, see landscape.Watch), a timer every
// cfg.Evaluate that publishes the decisions as system.retirement.v1 (keyed
// by the producing service), when cfg.CountVolume a passive river of every
// type counting volume and consumption, and GET /v1/demand on the
// service's HTTP server.
//
// While the tracker is behind in the rivers (see landscape.Watch and package
// rivers/lagwatch) it decides nothing: a subscriber whose heartbeats it has
// not read yet is not gone. It says so with system.monitor.lagging.v1.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	d := &demand{reg: landscape.New(cfg.InstanceTTL), tracker: NewTracker(cfg.TrackerConfig()), volume: NewVolume(0)}
	svc.Publishes(events.TypeRetirement)
	d.lag = landscape.Watch(svc, d.reg, landscape.WatchConfig{ExpireEvery: cfg.Evaluate,
		Lag: lagwatch.Config{Tolerance: cfg.LagTolerance, Settle: cfg.LagSettle}}, nil)
	svc.Every(cfg.Evaluate, "evaluate", d.evaluate)
	if cfg.CountVolume {
		rivers.HandleBatch(svc, rivers.NewRiver("*").Named(RiverVolume).Passive(),
			func(_ context.Context, b *rivers.Batch[struct{}]) error {
				for i := range b.Len() {
					ev := b.Event(i)
					d.volume.Observe(ev.ID(), ev.Type(), ev.Source(), ev.CausationID(), ev.OccurredAt())
				}
				return nil
			})
	}
	svc.HandleHTTP("/v1/demand", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d.report(cfg.CountVolume))
	}))
	return nil
}

type demand struct {
	reg    *landscape.Registry
	volume *Volume
	lag    *lagwatch.Watch

	mu      sync.Mutex
	tracker *Tracker
}

func (d *demand) evaluate(ctx context.Context, now time.Time, pub rivers.Publisher) error {
	if _, ok := d.lag.Judge(now); !ok {
		return nil
	}
	d.mu.Lock()
	decisions := d.tracker.Evaluate(d.reg.Graph(), now)
	d.mu.Unlock()
	for _, dec := range decisions {
		rivers.Logger(ctx).Info("retirement decision", "service", dec.Service, "event_type", dec.Type,
			"phase", dec.Phase, "reason", dec.Reason)
		if err := pub.Publish(ctx, events.TypeRetirement, Payload(dec), rivers.WithKey(dec.Service)); err != nil {
			return err
		}
	}
	return nil
}

func (d *demand) report(withVolume bool) Report {
	d.mu.Lock()
	r := Report{Types: d.tracker.Status(), Lagging: d.lag.Lagging()}
	d.mu.Unlock()
	if withVolume {
		r.Volume = d.volume.Snapshot()
	}
	if r.Volume == nil {
		r.Volume = []TypeVolume{}
	}
	return r
}
