package outage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"go.opentelemetry.io/otel/metric"
)

type missed struct {
	MeterID       string    `json:"meter_id"`
	TransformerID string    `json:"transformer_id"`
	FeederID      string    `json:"feeder_id"`
	ExpectedAt    time.Time `json:"expected_at"`
}

// Service is the outage detector registered on a rivers service.
type Service struct {
	log *slog.Logger
	dir string // Config.CheckpointDir

	mu  sync.Mutex
	det *Detector

	suspected, restored metric.Int64Counter
}

// Register adds the outage detector to svc: meter.reading.missed.v1 from
// the rivers (silence), meter.reading.v1 from the rapids (population,
// resumption and power_fail evidence; see the package documentation for
// why an edge agent reads the rapids), and the evaluation timer.
func Register(svc *rivers.Service, cfg Config) error {
	_, err := Attach(svc, cfg)
	return err
}

// Attach is Register returning the Service, for tests and tools.
func Attach(svc *rivers.Service, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{log: svc.Logger(), dir: cfg.CheckpointDir, det: NewDetector(cfg.detector().withAtEnd(svc))}
	if err := s.restore(); err != nil {
		return nil, err
	}
	m := svc.Meter()
	var e1, e2 error
	s.suspected, e1 = m.Int64Counter("watershed_outage_suspected_total", metric.WithDescription("outage.suspected.v1 published."))
	s.restored, e2 = m.Int64Counter("watershed_outage_restored_total", metric.WithDescription("outage.restored.v1 published."))
	if err := errors.Join(e1, e2); err != nil {
		return nil, fmt.Errorf("outage: metrics: %w", err)
	}
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingMissed).Named("missed").
		Require("meter_id", "transformer_id", "feeder_id", "expected_at"), s.handleMissed)
	rivers.HandleBatch(svc, rivers.NewRiver(events.TypeMeterReading).Named("readings").OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at").
		Interested("flags", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v"), s.handleReads) // the whole reading, decoded in one pass
	svc.Publishes(events.TypeOutageSuspected, events.TypeOutageRestored)
	svc.Every(cfg.Tick, "evaluate", s.tick)
	return s, nil
}

func (s *Service) handleMissed(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
	var m missed
	if err := ev.Decode(&m); err != nil {
		return err
	}
	s.mu.Lock()
	s.det.ObserveMissed(m.MeterID, m.TransformerID, m.FeederID, m.ExpectedAt)
	s.mu.Unlock()
	return nil
}

// handleReads observes a batch of readings of one partition under one lock.
func (s *Service) handleReads(_ context.Context, b *rivers.Batch[events.MeterReading]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range b.Len() {
		r, dl := b.Value(i), b.Delivery(i)
		src := Source{Partition: dl.Partition, Behind: dl.Behind, RecordTime: dl.RecordTime}
		s.det.ObserveReadFrom(src, r.MeterID, r.TransformerID, r.FeederID, r.ReadAt, slices.Contains(r.Flags, events.FlagPowerFail))
	}
	return nil
}

func (s *Service) tick(ctx context.Context, now time.Time, pub rivers.Publisher) error {
	var sus []events.OutageSuspected
	var res []events.OutageRestored
	s.mu.Lock()
	s.det.Evaluate(now, func(e events.OutageSuspected) { sus = append(sus, e) }, func(e events.OutageRestored) { res = append(res, e) })
	s.det.Prune()
	s.mu.Unlock()
	// The detector's state has moved on: a publication that fails is logged
	// and skipped, never retried.
	for _, e := range sus {
		if err := pub.Publish(ctx, events.TypeOutageSuspected, e, rivers.WithTime(e.FirstSilentAt)); err != nil {
			s.failed(ctx, err, "outage suspected not published", e.TransformerID)
			continue
		}
		s.suspected.Add(ctx, 1)
	}
	for _, e := range res {
		if err := pub.Publish(ctx, events.TypeOutageRestored, e, rivers.WithTime(e.RestoredAt)); err != nil {
			s.failed(ctx, err, "outage restored not published", e.TransformerID)
			continue
		}
		s.restored.Add(ctx, 1)
	}
	return nil
}

func (s *Service) failed(ctx context.Context, err error, msg, tx string) {
	if !errors.Is(err, rivers.ErrRetired) {
		s.log.ErrorContext(ctx, msg, "transformer_id", tx, "err", err)
	}
}

// Detector returns the detector under its lock, for tests and tools: f
// must not keep it.
func (s *Service) Detector(f func(*Detector)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.det)
}

// withAtEnd sets AtEnd and Assigned from svc's reading of the rapids.
func (c DetectorConfig) withAtEnd(svc *rivers.Service) DetectorConfig {
	topic := svc.Config().Kafka.Topics.Rapids
	c.AtEnd = func(p int) bool { return svc.AtEnd(topic, p) }
	c.Assigned = func() ([]int, bool) { return svc.Assigned(topic) }
	return c
}
