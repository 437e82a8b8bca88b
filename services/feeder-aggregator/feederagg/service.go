package feederagg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Service is the feeder aggregator registered on a rivers service.
type Service struct {
	log *slog.Logger
	dir string // Config.CheckpointDir

	mu  sync.Mutex
	agg *Aggregator

	reads, published metric.Int64Counter
}

// Register adds the feeder aggregator to svc: the river of
// meter.reading.v1 on the rapids and the timer (Config.Tick) that closes
// windows. Run one instance per consumer group: a transformer's meters are
// spread over partitions, and each instance aggregates what it consumes.
func Register(svc *rivers.Service, cfg Config) error {
	_, err := Attach(svc, cfg)
	return err
}

// Attach is Register returning the Service, for tests and tools.
func Attach(svc *rivers.Service, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{log: svc.Logger(), dir: cfg.CheckpointDir, agg: NewAggregator(cfg.aggregator().withAtEnd(svc))}
	if err := s.restore(); err != nil {
		return nil, err
	}
	m := svc.Meter()
	var e1, e2 error
	s.reads, e1 = m.Int64Counter("watershed_feeder_reads_total", metric.WithDescription("Readings seen, by outcome."))
	s.published, e2 = m.Int64Counter("watershed_feeder_loads_total", metric.WithDescription("feeder.load.v1 published, by level."))
	if err := errors.Join(e1, e2); err != nil {
		return nil, fmt.Errorf("feederagg: metrics: %w", err)
	}
	river := rivers.NewRiver(events.TypeMeterReading).Named("readings").OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags") // the whole reading, decoded in one pass
	rivers.HandleBatch(svc, river, s.handle)
	svc.Publishes(events.TypeFeederLoad)
	svc.Every(cfg.Tick, "close-windows", s.tick)
	return s, nil
}

// handle aggregates a batch of readings of one partition under one lock.
// It stops at the first reading the aggregator refuses (dead-lettered
// alone; the rest come in the next call).
func (s *Service) handle(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	var counts [len(outcomeNames)]int64
	failed, failure := -1, error(nil)
	s.mu.Lock()
	for i := range b.Len() {
		r, dl := b.Value(i), b.Delivery(i)
		out, err := s.agg.Observe(Read{MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
			ReadAt: r.ReadAt, Interval: time.Duration(r.IntervalSeconds) * time.Second, EnergyKWh: r.EnergyKWhTotal,
			DemandKW: r.DemandKW, VoltageV: r.VoltageVolts, Partition: dl.Partition, Behind: dl.Behind, RecordTime: dl.RecordTime})
		if err != nil {
			failed, failure = i, err
			break
		}
		if int(out) < len(counts) {
			counts[out]++
		}
	}
	s.mu.Unlock()
	for o, n := range counts {
		if n > 0 {
			s.reads.Add(ctx, n, metric.WithAttributes(attribute.String("outcome", Outcome(o).String())))
		}
	}
	if failed >= 0 {
		s.reads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "invalid")))
		return &rivers.BatchError{Index: failed, Err: rivers.Permanent(failure)}
	}
	return nil
}

func (s *Service) tick(ctx context.Context, _ time.Time, pub rivers.Publisher) error {
	s.mu.Lock()
	var due []Load
	s.agg.Advance(func(l Load) { due = append(due, l) })
	s.mu.Unlock()
	// The windows are closed already: a publication that fails is logged and
	// skipped, never retried.
	for _, l := range due {
		if err := pub.Publish(ctx, events.TypeFeederLoad, Payload(l), rivers.WithTime(l.End)); err != nil {
			if !errors.Is(err, rivers.ErrRetired) {
				s.log.ErrorContext(ctx, "feeder load not published", "level", l.Level, "id", l.ID, "start", l.Start, "err", err)
			}
			continue
		}
		s.published.Add(ctx, 1, metric.WithAttributes(attribute.String("level", l.Level)))
	}
	return nil
}

// Payload is the feeder.load.v1 of l.
func Payload(l Load) events.FeederLoad {
	p := events.FeederLoad{
		Level: l.Level, ID: l.ID, FeederID: l.FeederID, Start: l.Start, End: l.End,
		LoadKW: l.LoadKW, EnergyKWh: float64(l.EnergyWh) / 1000,
		MetersReporting: l.MetersReporting, MetersExpected: l.MetersExpected,
	}
	if l.HasVoltage {
		vmin, vmax, vavg := l.VoltageMin, l.VoltageMax, l.VoltageAvg
		p.VoltageMinVolts, p.VoltageMaxVolts, p.VoltageAvgVolts = &vmin, &vmax, &vavg
	}
	return p
}

// withAtEnd sets AtEnd and Assigned from svc's reading of the rapids.
func (c AggregatorConfig) withAtEnd(svc *rivers.Service) AggregatorConfig {
	topic := svc.Config().Kafka.Topics.Rapids
	c.AtEnd = func(p int) bool { return svc.AtEnd(topic, p) }
	c.Assigned = func() ([]int, bool) { return svc.Assigned(topic) }
	return c
}
