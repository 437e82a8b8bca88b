package usageinsights

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name: its ce_source, consumer group and metrics'
// service.name.
const Name = "usage-insights"

// Register adds usage-insights' river, its readiness check and its API
// to svc, and declares what it publishes. rivers.Main calls it with the
// configuration from the environment; tests call it on a service of the
// riverstest kit.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s := &service{cfg: cfg.withDefaults(), log: svc.Logger(), svc: svc}
	svc.Publishes(events.TypeUsageUnusual, events.TypeMeterCommandRequested)
	// Daily usage.interval.v1 on the rivers; hours are rejected by the
	// river's rule, before anything is decoded.
	svc.Handle(rivers.NewRiver(events.TypeUsageInterval).
		Named("usage-day").
		OnTopic(rivers.Rivers).
		RequireValue("period", "day").
		Require("meter_id", "transformer_id", "feeder_id", "start", "end", "energy_kwh", "reads", "reads_expected").
		Interested("estimated", "max_demand_kw", "register_start_kwh", "register_end_kwh"),
		s.usageDay)
	if p, ok := s.cfg.Store.(interface{ Ping(context.Context) error }); ok {
		svc.CheckReady("store", p.Ping)
	}
	svc.HandleHTTP("/v1/*", s.api())
	return nil
}

type service struct {
	cfg Config
	log *slog.Logger
	svc *rivers.Service
}

// usageDay keeps the latest figures of a meter's day (usage is corrected:
// the latest event per (meter_id, period, start) replaces the one before)
// and judges the day before it (see judge).
func (s *service) usageDay(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var in events.UsageInterval
	if err := ev.Decode(&in); err != nil {
		return err // permanent: the event is dead-lettered
	}
	m := Meter{ID: in.MeterID, TransformerID: in.TransformerID, FeederID: in.FeederID}
	days, err := s.cfg.Store.PutDay(ctx, m, dayOf(&in), s.cfg.KeepDays)
	if err != nil {
		return err // retried
	}
	v, ok := judge(days, in.Start, s.cfg)
	if !ok {
		return nil
	}
	d := days[v.index]
	if v.unusual {
		out := events.UsageUnusual{MeterID: m.ID, TransformerID: m.TransformerID, FeederID: m.FeederID, Period: "day",
			Start: d.Start, End: d.End, EnergyKWh: d.EnergyKWh, BaselineKWh: round3(v.baselineKWh),
			BaselineDays: v.baselineDays, Ratio: round3(*v.ratio), Threshold: s.cfg.UnusualFactor}
		cs, err := s.cfg.Store.Cohorts(ctx, m.TransformerID, []time.Time{d.Start})
		if err != nil {
			return err
		}
		var others []float64
		for id, kwh := range cs[0] {
			if id != m.ID {
				others = append(others, kwh)
			}
		}
		if med, ok := median(others); ok {
			med = round3(med)
			out.CohortMedianKWh = &med
		}
		if err := pub.Publish(ctx, events.TypeUsageUnusual, out, rivers.WithTime(d.End),
			rivers.WithID(unusualID(m.ID, d))); err != nil {
			return err
		}
	}
	d.Judged, d.Ratio, d.Unusual = true, v.ratio, v.unusual
	return s.cfg.Store.SetDay(ctx, m.ID, d)
}

// unusualID is the usage.unusual.v1's event id: one judgement per
// (meter, day), so a repeated one is a duplicate.
func unusualID(meter string, d Day) string {
	return rivers.DerivedID(events.TypeUsageUnusual, meter, strconv.FormatInt(d.Start.Unix(), 10))
}
