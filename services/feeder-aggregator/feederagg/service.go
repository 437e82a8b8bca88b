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

// Service is the feeder aggregator registered on a rivers service: the
// transformer level over its rapids partitions and the feeder level over
// its rivers partitions, each behind the one mutex.
type Service struct {
	log          *slog.Logger
	rapids, rvrs string        // topic names
	ttl          time.Duration // of transformer windows: a replay must find them

	mu     sync.Mutex
	trafos *Transformers
	feeds  *Feeders

	reads, loads, published metric.Int64Counter
}

// Register adds the feeder aggregator to svc: the river of
// meter.reading.v1 on the rapids (transformer level), the river of
// transformer windows (feeder.load.v1) on the rivers (feeder level), and
// the timer (Config.Tick) that closes fully silent partitions' windows.
// Both levels keep their state per partition (rivers.PartitionState), so
// it runs as N instances in one consumer group, N at most the rapids'
// partition count.
func Register(svc *rivers.Service, cfg Config) error {
	_, err := Attach(svc, cfg)
	return err
}

// Attach is Register returning the Service, for tests and tools.
func Attach(svc *rivers.Service, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	topics := svc.Config().Kafka.Topics
	s := &Service{log: svc.Logger(), rapids: topics.Rapids, rvrs: topics.Rivers, ttl: cfg.history(),
		trafos: NewTransformers(cfg.aggregator().withAtEnd(svc)), feeds: NewFeeders(cfg.feeders())}
	m := svc.Meter()
	var e1, e2, e3 error
	s.reads, e1 = m.Int64Counter("watershed_feeder_reads_total", metric.WithDescription("Readings seen, by outcome."))
	s.loads, e2 = m.Int64Counter("watershed_feeder_transformer_loads_total", metric.WithDescription("Transformer windows read by the feeder level, by outcome."))
	s.published, e3 = m.Int64Counter("watershed_feeder_loads_total", metric.WithDescription("feeder.load.v1 published, by level."))
	if err := errors.Join(e1, e2, e3); err != nil {
		return nil, fmt.Errorf("feederagg: metrics: %w", err)
	}
	// Each partition's state is rebuilt from its history when the group
	// assigns it (at the start too): rapids partitions carry transformers,
	// rivers partitions the feeders' transformer windows.
	svc.KeepPartitionState(rivers.PartitionState{Topics: []rivers.Topic{rivers.Rapids, rivers.Rivers},
		History: cfg.history(), Assigned: s.drop, Revoked: s.drop})
	readings := rivers.NewRiver(events.TypeMeterReading).Named("readings").OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags") // the whole reading, decoded in one pass
	rivers.HandleBatch(svc, readings, s.handle)
	windows := rivers.NewRiver(events.TypeFeederLoad).Named("transformer-windows").OnTopic(rivers.Rivers).
		RequireValue("level", events.LevelTransformer).
		Require("id", "feeder_id", "start", "end", "load_kw", "energy_kwh", "meters_reporting", "meters_expected").
		Interested("voltage_min_v", "voltage_max_v", "voltage_avg_v", "peak_load_kw") // decoded whole; peak unused
	rivers.HandleBatch(svc, windows, s.handleWindows)
	svc.Publishes(events.TypeFeederLoad)
	svc.Every(cfg.Tick, "close-windows", s.tick)
	return s, nil
}

// drop forgets a partition's state: assigned (its history is replayed
// next) or taken away.
func (s *Service) drop(tp rivers.TopicPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch tp.Topic {
	case s.rapids:
		s.trafos.Drop(tp.Partition)
	case s.rvrs:
		s.feeds.Drop(tp.Partition)
	}
}

// closing is a window closed by the event at index i of a batch: it is
// published as derived from that event, so the event is committed only
// once the window is out, and a replay up to the committed offset closes
// again only windows already published (its publications are discarded).
type closing struct {
	i int
	l Load
}

// handle aggregates a batch of readings of one partition under one lock.
// It stops at the first reading the aggregator refuses (dead-lettered
// alone; the rest come in the next call).
func (s *Service) handle(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	var counts [len(outcomeNames)]int64
	var closed []closing
	failed, failure := -1, error(nil)
	s.mu.Lock()
	for i := range b.Len() {
		r, dl := b.Value(i), b.Delivery(i)
		out, err := s.trafos.Observe(Read{MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
			ReadAt: r.ReadAt, Interval: time.Duration(r.IntervalSeconds) * time.Second, EnergyKWh: r.EnergyKWhTotal,
			DemandKW: r.DemandKW, VoltageV: r.VoltageVolts, Partition: dl.Partition, Behind: dl.Behind, RecordTime: dl.RecordTime},
			func(l Load) { closed = append(closed, closing{i, l}) })
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
	for _, c := range closed {
		s.publish(ctx, b.Publisher(c.i), c.l)
	}
	if failed >= 0 {
		s.reads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "invalid")))
		return &rivers.BatchError{Index: failed, Err: rivers.Permanent(failure)}
	}
	return nil
}

// handleWindows sums a batch of transformer windows of one rivers
// partition into their feeders' windows.
func (s *Service) handleWindows(ctx context.Context, b *rivers.Batch[events.FeederLoad]) error {
	var counts [len(outcomeNames)]int64
	var closed []closing
	failed, failure := -1, error(nil)
	s.mu.Lock()
	for i := range b.Len() {
		p := b.Value(i)
		l := loadOf(p.Level, p.ID, p.FeederID, p.Start, p.End, p.LoadKW, p.EnergyKWh,
			p.VoltageMinVolts, p.VoltageMaxVolts, p.VoltageAvgVolts, p.MetersReporting, p.MetersExpected)
		dl := b.Delivery(i)
		out, err := s.feeds.Observe(dl.Partition, l, dl.RecordTime, func(l Load) { closed = append(closed, closing{i, l}) })
		if err != nil {
			failed, failure = i, err
			break
		}
		counts[out]++
	}
	s.mu.Unlock()
	for o, n := range counts {
		if n > 0 {
			s.loads.Add(ctx, n, metric.WithAttributes(attribute.String("outcome", Outcome(o).String())))
		}
	}
	for _, c := range closed {
		s.publish(ctx, b.Publisher(c.i), c.l)
	}
	if failed >= 0 {
		return &rivers.BatchError{Index: failed, Err: rivers.Permanent(failure)}
	}
	return nil
}

// tick closes the windows of fully silent rapids partitions, and the
// feeder windows that waited for FeederSettle alone.
func (s *Service) tick(ctx context.Context, now time.Time, pub rivers.Publisher) error {
	s.mu.Lock()
	var due []Load
	s.trafos.CloseIdle(func(l Load) { due = append(due, l) })
	s.feeds.Settled(now, func(l Load) { due = append(due, l) })
	s.mu.Unlock()
	for _, l := range due {
		s.publish(ctx, pub, l)
	}
	return nil
}

// publish publishes a closed window, keyed by feeder (the catalog's key),
// with an id derived from the window: published again (a new owner of its
// partition closing it again after a crash) it is the same event. The
// window is closed already: a publication that fails is logged and
// skipped, never retried.
func (s *Service) publish(ctx context.Context, pub rivers.Publisher, l Load) {
	id := rivers.DerivedID(events.TypeFeederLoad, l.Level, l.ID, l.Start.UTC().Format(time.RFC3339))
	opts := []rivers.PublishOption{rivers.WithTime(l.End), rivers.WithID(id)}
	if l.Level == Transformer {
		opts = append(opts, rivers.WithTTL(max(s.ttl, rivers.DefaultTTL)))
	}
	if err := pub.Publish(ctx, events.TypeFeederLoad, Payload(l), opts...); err != nil {
		if !errors.Is(err, rivers.ErrRetired) {
			s.log.ErrorContext(ctx, "feeder load not published", "level", l.Level, "id", l.ID, "start", l.Start, "err", err)
		}
		return
	}
	s.published.Add(ctx, 1, metric.WithAttributes(attribute.String("level", l.Level)))
}

// State runs f with the service's two levels under its lock, for tests and
// tools: f must not keep them.
func (s *Service) State(f func(*Transformers, *Feeders)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.trafos, s.feeds)
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

// withAtEnd sets AtEnd from svc's reading of the rapids.
func (c AggregatorConfig) withAtEnd(svc *rivers.Service) AggregatorConfig {
	topic := svc.Config().Kafka.Topics.Rapids
	c.AtEnd = func(p int) bool { return svc.AtEnd(topic, p) }
	return c
}
