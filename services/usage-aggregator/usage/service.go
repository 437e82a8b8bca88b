package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Service is the usage aggregator registered on a rivers service.
type Service struct {
	log *slog.Logger

	dir string // Config.CheckpointDir

	mu  sync.Mutex
	agg *Aggregator

	reads, published metric.Int64Counter
}

// Register adds the usage aggregator to svc: the river of meter.reading.v1
// on the rapids and the timer (Config.Tick) that closes periods.
func Register(svc *rivers.Service, cfg Config) error {
	_, err := Attach(svc, cfg)
	return err
}

// Attach is Register returning the Service, for tests and tools.
func Attach(svc *rivers.Service, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ac, err := cfg.aggregator()
	if err != nil {
		return nil, err
	}
	s := &Service{log: svc.Logger(), dir: cfg.CheckpointDir, agg: NewAggregator(ac.withAtEnd(svc))}
	// The state of each rapids partition is rebuilt from the partition's
	// own history when the group assigns it (rivers.PartitionState), at
	// the start too: the final checkpoint is not restored, so it can never
	// bring back meters of partitions another instance holds now.
	drop := func(tp rivers.TopicPartition) { s.dropPartition(tp.Partition) }
	svc.KeepPartitionState(rivers.PartitionState{Topics: []rivers.Topic{rivers.Rapids}, History: cfg.Horizon + cfg.Lateness,
		Assigned: drop, Revoked: drop})
	m := svc.Meter()
	var e1, e2 error
	s.reads, e1 = m.Int64Counter("watershed_usage_reads_total", metric.WithDescription("Readings seen, by outcome."))
	s.published, e2 = m.Int64Counter("watershed_usage_intervals_total", metric.WithDescription("usage.interval.v1 published, by period and kind (first, correction)."))
	if err := errors.Join(e1, e2); err != nil {
		return nil, fmt.Errorf("usage: metrics: %w", err)
	}
	river := rivers.NewRiver(events.TypeMeterReading).Named("readings").OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw").
		Interested("voltage_v", "flags") // the whole reading, decoded in one pass
	rivers.HandleBatch(svc, river, s.handle)
	svc.Publishes(events.TypeUsageInterval)
	svc.Every(cfg.Tick, "close-periods", s.tick)
	return s, nil
}

// handle aggregates a batch of readings of one partition under one lock,
// then publishes the corrections it produced. It stops at the first reading
// the aggregator refuses (dead-lettered alone; the rest come in the next
// call).
func (s *Service) handle(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	var counts [len(outcomeNames)]int64
	type correction struct {
		i  int
		iv Interval
	}
	var corrs []correction
	failed, failure := -1, error(nil)
	s.mu.Lock()
	for i := range b.Len() {
		r, dl := b.Value(i), b.Delivery(i)
		out, corr, err := s.agg.Observe(Read{MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
			ReadAt: r.ReadAt, Interval: time.Duration(r.IntervalSeconds) * time.Second, EnergyKWh: r.EnergyKWhTotal, DemandKW: r.DemandKW,
			Partition: dl.Partition, Behind: dl.Behind, RecordTime: dl.RecordTime})
		if err != nil {
			failed, failure = i, err
			break
		}
		if int(out) < len(counts) {
			counts[out]++
		}
		for _, iv := range corr {
			corrs = append(corrs, correction{i, iv})
		}
	}
	s.mu.Unlock()
	for o, n := range counts {
		if n > 0 {
			s.reads.Add(ctx, n, metric.WithAttributes(attribute.String("outcome", Outcome(o).String())))
		}
	}
	for _, c := range corrs {
		// The correction is computed already: retrying would not find it again.
		if err := s.publish(ctx, b.Publisher(c.i), c.iv); err != nil && !errors.Is(err, rivers.ErrRetired) {
			s.log.ErrorContext(ctx, "usage correction not published", "meter_id", c.iv.MeterID, "start", c.iv.Start, "period", c.iv.Period, "err", err)
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
	var due []Interval
	s.agg.Advance(func(iv Interval) { due = append(due, iv) })
	s.mu.Unlock()
	// The periods are closed already: a publication that fails is logged
	// and skipped, never retried.
	for _, iv := range due {
		if err := s.publish(ctx, pub, iv); err != nil && !errors.Is(err, rivers.ErrRetired) {
			s.log.ErrorContext(ctx, "usage interval not published", "meter_id", iv.MeterID, "start", iv.Start, "period", iv.Period, "err", err)
		}
	}
	return nil
}

func (s *Service) publish(ctx context.Context, pub rivers.Publisher, iv Interval) error {
	kind := "first"
	if iv.Revision > 1 {
		kind = "correction"
	}
	// The id is the figures': an instance that took the meter's partition
	// over and publishes the period again with the same figures publishes
	// the same event, which consumers de-duplicate.
	id := rivers.DerivedID(events.TypeUsageInterval, iv.MeterID, iv.Period, iv.Start.UTC().Format(time.RFC3339),
		strconv.FormatInt(iv.EnergyWh, 10), strconv.Itoa(iv.Reads), strconv.FormatInt(iv.RegisterStartWh, 10),
		strconv.FormatInt(iv.RegisterEndWh, 10), strconv.FormatFloat(iv.MaxDemandKW, 'g', -1, 64))
	if err := pub.Publish(ctx, events.TypeUsageInterval, Payload(iv), rivers.WithTime(iv.End), rivers.WithID(id)); err != nil {
		return err
	}
	s.published.Add(ctx, 1, metric.WithAttributes(attribute.String("period", iv.Period), attribute.String("kind", kind)))
	return nil
}

func (s *Service) dropPartition(p int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agg.DropPartition(p)
}

// Aggregator returns the aggregator under its lock, for tests and tools: f
// must not keep it.
func (s *Service) Aggregator(f func(*Aggregator)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.agg)
}

// Payload is the usage.interval.v1 of iv. Energies in kWh are the exact
// integer Wh divided by 1000, so they print with at most three decimals.
func Payload(iv Interval) events.UsageInterval {
	kwh := func(wh int64) *float64 { v := float64(wh) / 1000; return &v }
	maxKW := iv.MaxDemandKW
	return events.UsageInterval{
		MeterID: iv.MeterID, TransformerID: iv.TransformerID, FeederID: iv.FeederID,
		Period: iv.Period, Start: iv.Start, End: iv.End,
		EnergyKWh: float64(max(iv.EnergyWh, 0)) / 1000, Reads: iv.Reads, ReadsExpected: iv.ReadsExpected,
		MaxDemandKW: &maxKW, RegisterStartKWh: kwh(iv.RegisterStartWh), RegisterEndKWh: kwh(iv.RegisterEndWh),
	}
}

// withAtEnd sets AtEnd and Assigned from svc's reading of the rapids.
func (c AggregatorConfig) withAtEnd(svc *rivers.Service) AggregatorConfig {
	topic := svc.Config().Kafka.Topics.Rapids
	c.AtEnd = func(p int) bool { return svc.AtEnd(topic, p) }
	c.Assigned = func() ([]int, bool) { return svc.Assigned(topic) }
	return c
}
