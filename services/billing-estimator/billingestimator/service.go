package billingestimator

import (
	"context"
	"log/slog"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name: its ce_source, consumer group and metrics'
// service.name.
const Name = "billing-estimator"

// Register adds billing-estimator's rivers and handlers to svc, and declares what
// it publishes. rivers.Main calls it with the configuration from the
// environment; tests call it on a service of the riverstest kit.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s := &service{cfg: cfg, log: svc.Logger()}
	svc.Publishes(events.TypeMeterReadingEstimated, events.TypeMeterReadingAdjusted, events.TypeBillingPeriod)
	// meter.reading.missed.v1 on the rivers. The river requires what the schema
	// requires and declares the optional keys, so the handler may decode
	// the whole payload: narrow it to what the service reads.
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingMissed).
		Named("meter-reading-missed").
		OnTopic(rivers.Rivers).
		Require("meter_id", "transformer_id", "feeder_id", "expected_at", "interval_s", "grace_s", "consecutive_missed", "detected_at").
		Interested("last_energy_kwh_total", "last_read_at"),
		s.meterReadingMissed)
	// meter.reading.v1 on the rapids. The river requires what the schema
	// requires and declares the optional keys, so the handler may decode
	// the whole payload: narrow it to what the service reads.
	svc.Handle(rivers.NewRiver(events.TypeMeterReading).
		Named("meter-reading").
		OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags"),
		s.meterReading)
	return nil
}

type service struct {
	cfg Config
	log *slog.Logger
}

// meterReadingMissed handles one meter.reading.missed.v1: A negative event
// from the gap detector: an expected read did not arrive within the grace
// period (in event time). It reports an absence, not a zero: the meter's
// energy in the interval is unknown, not 0, so do not count it as zero
// consumption. One event per missing interval, at most a configured number
// per run of silence; de-duplicate on (meter_id, expected_at), as a
// redelivery can repeat one. When the read arrives after all, it flows on
// the rapids and a meter.reading.late.v1 closes the gap, so whatever was
// estimated from this event should be trued up.
func (s *service) meterReadingMissed(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var in events.MeterReadingMissed
	if err := ev.Decode(&in); err != nil {
		return err // permanent: the event is dead-lettered
	}
	if out, ok := meterReadingEstimatedFromMeterReadingMissed(in); ok {
		// Invalid against its schema, out fails permanently and the
		// meter.reading.missed.v1 is dead-lettered; retryable errors are retried.
		if err := pub.Publish(ctx, events.TypeMeterReadingEstimated, out); err != nil {
			return err
		}
	} else {
		s.log.DebugContext(ctx, "no meter.reading.estimated.v1 for this meter.reading.missed.v1", "id", ev.ID(), "key", ev.Key())
	}
	if out, ok := meterReadingAdjustedFromMeterReadingMissed(in); ok {
		// Invalid against its schema, out fails permanently and the
		// meter.reading.missed.v1 is dead-lettered; retryable errors are retried.
		if err := pub.Publish(ctx, events.TypeMeterReadingAdjusted, out); err != nil {
			return err
		}
	} else {
		s.log.DebugContext(ctx, "no meter.reading.adjusted.v1 for this meter.reading.missed.v1", "id", ev.ID(), "key", ev.Key())
	}
	if out, ok := billingPeriodFromMeterReadingMissed(in); ok {
		// Invalid against its schema, out fails permanently and the
		// meter.reading.missed.v1 is dead-lettered; retryable errors are retried.
		if err := pub.Publish(ctx, events.TypeBillingPeriod, out); err != nil {
			return err
		}
	} else {
		s.log.DebugContext(ctx, "no billing.period.v1 for this meter.reading.missed.v1", "id", ev.ID(), "key", ev.Key())
	}
	return nil
}

// meterReading handles one meter.reading.v1: One interval read of a smart
// meter: the system's input contract. Published on the rapids, keyed by
// meter_id, by the MQTT gateway, head-end adapters and the simulator.
// Delivery is at least once and reads may come late and out of order
// (head-ends deliver in bursts): the same read can arrive twice, so
// de-duplicate on (meter_id, read_at). Energy is a cumulative register
// (energy_kwh_total): use the difference of two reads, never the value
// itself.
func (s *service) meterReading(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var in events.MeterReading
	if err := ev.Decode(&in); err != nil {
		return err // permanent: the event is dead-lettered
	}
	if out, ok := meterReadingEstimatedFromMeterReading(in); ok {
		// Invalid against its schema, out fails permanently and the
		// meter.reading.v1 is dead-lettered; retryable errors are retried.
		if err := pub.Publish(ctx, events.TypeMeterReadingEstimated, out); err != nil {
			return err
		}
	} else {
		s.log.DebugContext(ctx, "no meter.reading.estimated.v1 for this meter.reading.v1", "id", ev.ID(), "key", ev.Key())
	}
	if out, ok := meterReadingAdjustedFromMeterReading(in); ok {
		// Invalid against its schema, out fails permanently and the
		// meter.reading.v1 is dead-lettered; retryable errors are retried.
		if err := pub.Publish(ctx, events.TypeMeterReadingAdjusted, out); err != nil {
			return err
		}
	} else {
		s.log.DebugContext(ctx, "no meter.reading.adjusted.v1 for this meter.reading.v1", "id", ev.ID(), "key", ev.Key())
	}
	if out, ok := billingPeriodFromMeterReading(in); ok {
		// Invalid against its schema, out fails permanently and the
		// meter.reading.v1 is dead-lettered; retryable errors are retried.
		if err := pub.Publish(ctx, events.TypeBillingPeriod, out); err != nil {
			return err
		}
	} else {
		s.log.DebugContext(ctx, "no billing.period.v1 for this meter.reading.v1", "id", ev.ID(), "key", ev.Key())
	}
	return nil
}
