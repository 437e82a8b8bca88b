package loadforecaster

import (
	"context"
	"log/slog"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name: its ce_source, consumer group and metrics'
// service.name.
const Name = "load-forecaster"

// Register adds load-forecaster's rivers and handlers to svc, and declares what
// it publishes. rivers.Main calls it with the configuration from the
// environment; tests call it on a service of the riverstest kit.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s := &service{cfg: cfg, log: svc.Logger()}
	svc.Publishes(events.TypeFeederLoadForecast)
	// feeder.load.v1 on the rivers. The river requires what the schema
	// requires and declares the optional keys, so the handler may decode
	// the whole payload: narrow it to what the service reads.
	svc.Handle(rivers.NewRiver(events.TypeFeederLoad).
		Named("feeder-load").
		OnTopic(rivers.Rivers).
		Require("level", "id", "feeder_id", "start", "end", "load_kw", "energy_kwh", "meters_reporting", "meters_expected").
		Interested("peak_load_kw", "voltage_avg_v", "voltage_max_v", "voltage_min_v"),
		s.feederLoad)
	return nil
}

type service struct {
	cfg Config
	log *slog.Logger
}

// feederLoad handles one feeder.load.v1: Load and voltage quality of one
// transformer or feeder over a 15-minute window, aggregated from its
// meters' reads. Published once per element and window when the window
// closes in event time (transformer level, then feeder level summing its
// transformers), and NOT corrected: reads that arrive after their window
// closed are dropped, so the figures are an operational view and
// usage.interval.v1 is the exact, corrected energy. A transformer whose
// meters all went silent is still published, with meters_reporting 0.
func (s *service) feederLoad(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var in events.FeederLoad
	if err := ev.Decode(&in); err != nil {
		return err // permanent: the event is dead-lettered
	}
	if out, ok := feederLoadForecastFromFeederLoad(in); ok {
		// Invalid against its schema, out fails permanently and the
		// feeder.load.v1 is dead-lettered; retryable errors are retried.
		if err := pub.Publish(ctx, events.TypeFeederLoadForecast, out); err != nil {
			return err
		}
	} else {
		s.log.DebugContext(ctx, "no feeder.load.forecast.v1 for this feeder.load.v1", "id", ev.ID(), "key", ev.Key())
	}
	return nil
}
