package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// Tick is how often the simulator's timer releases the uploads that fell
// due on the grid clock (paced), or generates the next interval (max).
const Tick = 100 * time.Millisecond

// Simulator is a registered simulator: the generator, its grid clock and
// the fault commands it obeys.
type Simulator struct {
	cfg   Config
	gen   *Generator
	model *Model
	svc   *rivers.Service

	mu      sync.Mutex
	wall0   time.Time // service clock at the first tick
	gridNow time.Time
	pending []Upload // generated, not yet due (paced)
	raw     *rapids.Producer

	readings metric.Int64Counter
	faults   metric.Int64Counter
}

// Register adds the simulator to svc: a timer that publishes
// meter.reading.v1 to the rapids on the accelerated grid clock (the
// service's clock × Config.Speed, or as fast as possible with RateMax),
// and a river on the rivers for simulator.fault.v1 commands. svc must be
// built with a validator that knows simulator.fault.v1 to publish such
// commands itself; consuming them needs nothing (the SDK's reader is
// tolerant of unknown types).
func Register(svc *rivers.Service, cfg Config) error {
	_, err := New(svc, cfg)
	return err
}

// New is Register returning the Simulator, for tests and tools that want its
// model (the exact expectations) or its grid clock.
func New(svc *rivers.Service, cfg Config) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f, err := NewFleet(cfg.Fleet)
	if err != nil {
		return nil, err
	}
	start := cfg.Start
	if start.IsZero() {
		start = time.Now()
	}
	m, err := NewModel(f, cfg.scenario(start))
	if err != nil {
		return nil, err
	}
	s := &Simulator{cfg: cfg, gen: NewGenerator(m), model: m, svc: svc, gridNow: m.sc.Start}
	meter := svc.Meter()
	if s.readings, err = meter.Int64Counter("simulator_records_published_total",
		metric.WithDescription("Records the simulator published, by kind (reading, duplicate, malformed)")); err != nil {
		return nil, err
	}
	if s.faults, err = meter.Int64Counter("simulator_faults_injected_total",
		metric.WithDescription("Fault commands applied, by kind")); err != nil {
		return nil, err
	}
	svc.Publishes(events.TypeMeterReading)
	svc.Every(Tick, "generate", s.tick)
	svc.Handle(rivers.NewRiver(TypeFault).Named("faults").Require("kind").Interested("target", "rate", "from", "to", "duration_s", "skew_s"), s.handleFault)
	return s, nil
}

// Model returns the fleet under the configured scenario: the exact
// expectations (Model.HourlyUsage) of what this simulator publishes,
// outages included; runtime fault commands are not part of it.
func (s *Simulator) Model() *Model { return s.model }

// GridNow returns the simulated time.
func (s *Simulator) GridNow() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gridNow
}

// Stats returns what the generator produced so far.
func (s *Simulator) Stats() Stats { return s.gen.Stats() }

func (s *Simulator) handleFault(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
	var c FaultCommand
	if err := ev.Decode(&c); err != nil {
		return rivers.Permanent(err)
	}
	f, err := c.Fault(s.GridNow())
	if err == nil {
		err = s.gen.Inject(f)
	}
	if err != nil {
		return rivers.Permanent(fmt.Errorf("simulator.fault.v1: %w", err))
	}
	s.faults.Add(ctx, 1, metric.WithAttributes(attrKind(string(f.Kind))))
	rivers.Logger(ctx).Info("fault injected", "fault", f.String())
	return nil
}

// tick releases what is due: in paced mode every upload whose due time the
// grid clock has reached; in max mode the next interval.
func (s *Simulator) tick(ctx context.Context, now time.Time, pub rivers.Publisher) error {
	s.mu.Lock()
	if s.wall0.IsZero() {
		s.wall0 = now.Add(-Tick)
	}
	var due []Upload
	if s.cfg.Rate == RateMax {
		if s.cfg.End.IsZero() || !s.gen.Next().After(s.cfg.End) {
			due = append(due, cloneUploads(s.gen.Interval())...)
		} else {
			due = append(due, cloneUploads(s.gen.Flush())...)
		}
		if len(due) > 0 {
			s.gridNow = due[len(due)-1].Due
		}
	} else {
		grid := s.model.sc.Start.Add(time.Duration(float64(now.Sub(s.wall0)) * s.cfg.Speed))
		if !s.cfg.End.IsZero() && grid.After(s.cfg.End) {
			grid = s.cfg.End
		}
		s.gridNow = grid
		for !s.gen.Next().After(grid) {
			s.pending = append(s.pending, cloneUploads(s.gen.Interval())...)
		}
		n := 0
		for n < len(s.pending) && !s.pending[n].Due.After(grid) {
			n++
		}
		due = append(due, s.pending[:n]...)
		s.pending = append(s.pending[:0], s.pending[n:]...)
	}
	s.mu.Unlock()
	return s.publish(ctx, pub, due)
}

func (s *Simulator) publish(ctx context.Context, pub rivers.Publisher, ups []Upload) error {
	var buf []byte
	var malformed []rivers.Record
	var enc *encoder
	counts := map[ItemKind]int64{}
	for i := range ups {
		up := &ups[i]
		for _, it := range up.Items {
			counts[it.Kind]++
			if it.Kind == ItemMalformed {
				if enc == nil {
					enc = newEncoder(s.svc.Config().Kafka.Topics.Rapids, s.cfg.ReadingTTL)
				}
				malformed = append(malformed, enc.record(it, up.Due, time.Now()))
				continue
			}
			buf = it.Reading.AppendJSON(buf[:0])
			err := pub.Publish(ctx, events.TypeMeterReading, json.RawMessage(append([]byte(nil), buf...)),
				rivers.ToTopic(rivers.Rapids), rivers.WithKey(it.Reading.MeterID), rivers.WithTime(up.Due), rivers.WithTTL(s.cfg.ReadingTTL))
			if err != nil {
				return err
			}
		}
	}
	if len(malformed) > 0 {
		if err := s.publishRaw(ctx, malformed); err != nil {
			return err
		}
	}
	for k, n := range counts {
		s.readings.Add(ctx, n, metric.WithAttributes(attrKind([...]string{"reading", "duplicate", "malformed"}[k])))
	}
	return nil
}

// publishRaw sends corrupt records straight to the rapids with a producer
// of its own: the SDK refuses to publish what does not decode, which is
// the point of a malformed record.
func (s *Simulator) publishRaw(ctx context.Context, recs []rivers.Record) error {
	s.mu.Lock()
	if s.raw == nil {
		p, err := rapids.NewProducer(s.svc.Config().Kafka)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("simulator: producer for malformed records: %w", err)
		}
		s.raw = p
	}
	p := s.raw
	s.mu.Unlock()
	out := make([]rapids.Record, len(recs))
	for i, r := range recs {
		out[i] = rapids.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
	}
	return p.Publish(ctx, out...)
}

// cloneUploads copies uploads out of the generator's reused buffers.
func cloneUploads(ups []Upload) []Upload {
	out := make([]Upload, len(ups))
	for i, u := range ups {
		u.Items = append([]Item(nil), u.Items...)
		out[i] = u
	}
	return out
}
