package loadforecaster

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name: its ce_source, consumer group and metrics'
// service.name.
const Name = "load-forecaster"

// Horizon is the hours a forecast covers.
const Horizon = 24

// Register adds load-forecaster's river to svc and declares what it
// publishes. rivers.Main calls it with the configuration from the
// environment; tests call it on a service of the riverstest kit.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s := &service{cfg: cfg.withDefaults(), log: svc.Logger(), feeders: map[string]*feeder{}}
	svc.Publishes(events.TypeFeederLoadForecast)
	// Feeder-level windows of feeder.load.v1; transformer windows are
	// rejected by the river's rule before anything is decoded.
	svc.Handle(rivers.NewRiver(events.TypeFeederLoad).
		Named("feeder-load").
		OnTopic(rivers.Rivers).
		RequireValue("level", "feeder").
		Require("id", "start", "end", "load_kw").
		Interested("feeder_id", "energy_kwh", "meters_reporting", "meters_expected",
			"peak_load_kw", "voltage_avg_v", "voltage_max_v", "voltage_min_v"),
		s.feederLoad)
	if p, ok := s.cfg.Store.(interface{ Ping(context.Context) error }); ok {
		svc.CheckReady("store", p.Ping)
	}
	return nil
}

type service struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	feeders map[string]*feeder // a feeder's windows come in order, on one partition
}

// window is what the service reads of a feeder.load.v1.
type window struct {
	ID     string    `json:"id"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	LoadKW float64   `json:"load_kw"`
}

// feederLoad adds a feeder window to its hour; when the hour closes, every
// model forecasts the next 24 hours from it.
func (s *service) feederLoad(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var w window
	if err := ev.Decode(&w); err != nil {
		return err // permanent: the event is dead-lettered
	}
	f, err := s.feeder(ctx, w.ID)
	if err != nil {
		return err
	}
	cl := f.add(w.Start.Unix(), w.End.Unix(), w.LoadKW)
	if len(cl) == 0 {
		return nil
	}
	gone := f.trim(s.cfg.KeepDays * 24)
	for i, c := range cl {
		var g []int64
		if i == len(cl)-1 {
			g = gone
		}
		if err := s.cfg.Store.Put(ctx, w.ID, c.start, c.load, g); err != nil {
			return err
		}
	}
	// Forecast from the newest closed hour only: an hour closed by a
	// later window is already past.
	issued := cl[len(cl)-1].start + hour
	for _, m := range s.cfg.Models {
		pts := forecast(m, f.at, issued, Horizon, s.cfg.profile())
		if pts == nil {
			continue // not enough history for this model yet
		}
		out := events.FeederLoadForecast{FeederID: w.ID, Model: m, IssuedAt: time.Unix(issued, 0).UTC(),
			HistoryHours: f.historyHours(), Points: make([]events.LoadPoint, len(pts))}
		for k, v := range pts {
			st := time.Unix(issued+int64(k)*hour, 0).UTC()
			out.Points[k] = events.LoadPoint{Start: st, End: st.Add(time.Hour), LoadKW: round1(v)}
		}
		if err := pub.Publish(ctx, events.TypeFeederLoadForecast, out, rivers.WithTime(out.IssuedAt),
			rivers.WithID(forecastID(w.ID, m, issued))); err != nil {
			return err
		}
	}
	return nil
}

// feeder returns the feeder's state, loading its history from the store
// the first time.
func (s *service) feeder(ctx context.Context, id string) (*feeder, error) {
	s.mu.Lock()
	f := s.feeders[id]
	s.mu.Unlock()
	if f != nil {
		return f, nil
	}
	hours, err := s.cfg.Store.Hours(ctx, id)
	if err != nil {
		return nil, err // retried
	}
	f = newFeeder(hours)
	s.mu.Lock()
	s.feeders[id] = f
	s.mu.Unlock()
	return f, nil
}

// forecastID is the event id of a forecast: one per (feeder, model, hour),
// so a repeated one is a duplicate.
func forecastID(feeder, model string, issued int64) string {
	return rivers.DerivedID(events.TypeFeederLoadForecast, feeder, model, strconv.FormatInt(issued, 10))
}

func round1(x float64) float64 {
	if x < 0 {
		return -round1(-x)
	}
	return float64(int64(x*10+0.5)) / 10
}
