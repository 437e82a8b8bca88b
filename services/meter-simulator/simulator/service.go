package simulator

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// Tick is how often the simulator's timer releases the uploads that fell
// due on the grid clock (paced), or generates the next intervals (max).
const Tick = 100 * time.Millisecond

// tickWork bounds the wall-clock time one tick spends publishing, so a
// simulator that is behind (catch-up, max rate) hands control back to the
// SDK regularly; the rest waits for the next tick.
const tickWork = time.Second

// publishLanes is how many batches are in flight at once: records go to a
// lane by meter id, so one meter's reads keep their order.
const publishLanes = 4

// Simulator is a registered simulator: the generator, its grid clock and
// the fault commands it obeys.
type Simulator struct {
	cfg   Config
	gen   *Generator
	model *Model
	svc   *rivers.Service
	log   *slog.Logger

	// sink stores records durably; nil until first use means a rapids
	// producer of the simulator's own (see publishTo).
	sink     PublishFunc
	producer *rapids.Producer

	// State of the timer (its runs never overlap).
	wall0   time.Time // service clock at the first tick
	grid0   time.Time // grid clock at wall0: the start, or the checkpoint's
	cur     []Upload  // the interval being published (the generator's buffers)
	curAt   time.Time // its read time (for the held-back reads after End: the next one)
	sent    int       // cur[:sent] are encoded and handed to the lanes
	retry   []batch   // batches a failed run left unacknowledged, in order
	flushed bool      // the held-back reads after End were generated
	saved   time.Time // complete() as last checkpointed
	ended   bool      // ended as last checkpointed

	gridNow   atomic.Int64 // unix nanoseconds
	published atomic.Uint64

	readings metric.Int64Counter
	faults   metric.Int64Counter
	commands metric.Int64Counter
}

// Register adds the simulator to svc: a timer that publishes
// meter.reading.v1 to the rapids on the accelerated grid clock (the
// service's clock × Config.Speed, or as fast as possible with RateMax),
// and a river on the rivers for simulator.fault.v1 commands. svc must be
// built with a validator that knows simulator.fault.v1 to publish such
// commands itself; consuming them needs nothing (the SDK's reader is
// tolerant of unknown types).
//
// Readings go to the rapids through a producer of the simulator's own
// (svc's Kafka configuration), in batches of Config.BatchSize, a few
// batches in flight, each answered before the timer's run ends: the
// simulator never holds more than the interval it is publishing and a few
// batches. They are
// not validated one by one: the simulator writes them itself (its tests
// hold them to the catalog's schema).
func Register(svc *rivers.Service, cfg Config) error {
	_, err := New(svc, cfg)
	return err
}

// New is Register returning the Simulator, for tests and tools that want its
// model (the exact expectations) or its grid clock.
func New(svc *rivers.Service, cfg Config) (*Simulator, error) {
	return newSimulator(svc, cfg, nil)
}

// newSimulator is New with the records' destination: nil for a rapids
// producer from svc's configuration.
func newSimulator(svc *rivers.Service, cfg Config, sink PublishFunc) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f, err := NewFleet(cfg.Fleet)
	if err != nil {
		return nil, err
	}
	log := svc.Logger()
	var cp *checkpoint
	if cfg.Checkpoint != "" {
		if cp, err = loadCheckpoint(cfg.Checkpoint); err != nil {
			return nil, err
		}
	}
	start := cfg.Start
	if start.IsZero() {
		start = time.Now()
		if cp != nil {
			start = cp.Start
		}
	}
	m, err := NewModel(f, cfg.scenario(start))
	if err != nil {
		return nil, err
	}
	if cp != nil && cp.Scenario != scenarioID(cfg, m.sc.Start) {
		log.Warn("checkpoint of another fleet or scenario ignored: starting the grid clock again",
			"checkpoint", cfg.Checkpoint, "checkpoint_start", cp.Start)
		cp = nil
		if cfg.Start.IsZero() {
			if m, err = NewModel(f, cfg.scenario(time.Now())); err != nil {
				return nil, err
			}
		}
	}
	s := &Simulator{cfg: cfg, gen: NewGenerator(m), model: m, svc: svc, log: log, sink: sink, grid0: m.sc.Start}
	if cp != nil {
		s.gen.Skip(cp.Next)
		s.grid0 = cp.Grid
		s.flushed = cp.Ended
		log.Info("resuming from checkpoint", "checkpoint", cfg.Checkpoint, "next", cp.Next, "grid", cp.Grid, "ended", cp.Ended)
	}
	s.saved, s.ended = s.complete(), cp != nil && cp.Ended
	s.gridNow.Store(s.grid0.UnixNano())
	meter := svc.Meter()
	if s.readings, err = meter.Int64Counter("simulator_records_published_total",
		metric.WithDescription("Records the simulator published, by kind (reading, duplicate, malformed)")); err != nil {
		return nil, err
	}
	if s.faults, err = meter.Int64Counter("simulator_faults_injected_total",
		metric.WithDescription("Fault commands applied, by kind")); err != nil {
		return nil, err
	}
	if s.commands, err = meter.Int64Counter("simulator_commands_total",
		metric.WithDescription("meter.command.v1 received, by result (completed, failed, rejected, dropped, not_in_fleet, refused)")); err != nil {
		return nil, err
	}
	if cfg.MeterMemory > 0 {
		s.gen.SetMeterMemory(cfg.MeterMemory)
	}
	svc.Publishes(events.TypeMeterReading, events.TypeMeterCommandAck)
	svc.Every(Tick, "generate", s.tick)
	svc.Handle(rivers.NewRiver(events.TypeMeterCommand).Named("commands").
		Require("command_id", "meter_id", "command", "attempt").Interested("parameters"), s.handleCommand)
	svc.Controls(TypeFault) // a fault changes what the fleet does: only from a trusted signer
	svc.Handle(rivers.NewRiver(TypeFault).Named("faults").Require("kind").Interested("target", "rate", "from", "to", "duration_s", "skew_s"), s.handleFault)
	return s, nil
}

// Model returns the fleet under the configured scenario: the exact
// expectations (Model.HourlyUsage) of what this simulator publishes,
// outages included; runtime fault commands are not part of it.
func (s *Simulator) Model() *Model { return s.model }

// GridNow returns the simulated time: in paced mode the accelerated clock,
// in max mode the due time of the last upload published.
func (s *Simulator) GridNow() time.Time { return time.Unix(0, s.gridNow.Load()).UTC() }

// Stats returns what the generator produced so far (since the resumed
// position, after a restart).
func (s *Simulator) Stats() Stats { return s.gen.Stats() }

// Published returns how many records the broker acknowledged.
func (s *Simulator) Published() uint64 { return s.published.Load() }

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

// complete is the read time of the first interval not entirely published
// and acknowledged: where a restart generates again.
func (s *Simulator) complete() time.Time {
	at := s.gen.Next()
	if s.sent < len(s.cur) {
		at = s.curAt
	}
	for _, b := range s.retry {
		if b.first.Before(at) {
			at = b.first
		}
	}
	return at
}

// tick publishes what is due, interval by interval: in paced mode every
// upload whose due time the grid clock has reached, in max mode whole
// intervals, for at most tickWork. Readings are encoded into batches as
// they are handed out and the lanes hold a few batches each, so memory is
// the generator's current interval and a few batches whatever the
// backlog. After End, the uploads due until End + MaxUploadDelay go out,
// then the reads still held back (Generator.Flush). Every batch is
// answered before the run ends; the batches a failed run leaves behind
// are sent first by the next one (same records, same ids).
func (s *Simulator) tick(ctx context.Context, now time.Time, _ rivers.Publisher) error {
	if s.wall0.IsZero() {
		s.wall0 = now.Add(-Tick)
	}
	maxRate := s.cfg.Rate == RateMax
	endDrained := s.cfg.End.Add(s.model.sc.MaxUploadDelay)
	var release time.Time // uploads due until then go out (paced)
	if !maxRate {
		grid := s.grid0.Add(time.Duration(float64(now.Sub(s.wall0)) * s.cfg.Speed))
		if !s.cfg.End.IsZero() && grid.After(endDrained) {
			grid = endDrained
		}
		s.gridNow.Store(grid.UnixNano())
		release = grid
	}
	sink, err := s.publishTo()
	if err != nil {
		return err
	}
	out := s.startLanes(ctx, sink)
	for _, b := range s.retry {
		out.resend(b)
	}
	s.retry = nil
	deadline := time.Now().Add(tickWork)
	for ctx.Err() == nil && out.failed() == nil {
		if s.sent == len(s.cur) {
			// The interval is handed out (its records are encoded, the
			// generator's buffers are free): the next one. Paced, it is
			// published whole first, so the lanes never put a later
			// interval's reads on a partition ahead of this one's.
			if !maxRate && len(s.cur) > 0 {
				out.barrier()
			}
			next := s.gen.Next()
			ended := !s.cfg.End.IsZero() && next.After(s.cfg.End)
			s.cur, s.sent, s.curAt = nil, 0, next
			switch {
			case ended && s.flushed:
			case ended && (maxRate || !release.Before(endDrained)):
				s.cur = s.gen.Flush()
				s.flushed = true
			case !ended && (maxRate || !next.After(release)):
				s.cur = s.gen.Interval()
			}
			if len(s.cur) == 0 {
				break // nothing to generate yet, or the end
			}
		}
		n := s.sent
		for n < len(s.cur) && (maxRate || !s.cur[n].Due.After(release)) {
			n++
		}
		if n == s.sent {
			break // the rest is not due yet
		}
		for i := s.sent; i < n; i++ {
			out.upload(s.curAt, &s.cur[i])
		}
		s.sent = n
		if due := s.cur[n-1].Due.UnixNano(); maxRate && due > s.gridNow.Load() {
			s.gridNow.Store(due)
		}
		if time.Now().After(deadline) {
			break
		}
	}
	s.retry, err = out.close()
	if err != nil {
		return fmt.Errorf("simulator: publish meter.reading.v1: %w", err)
	}
	return s.checkpoint()
}

// checkpoint saves the position when it moved (Config.Checkpoint).
func (s *Simulator) checkpoint() error {
	next, ended := s.complete(), s.flushed && s.sent == len(s.cur) && len(s.retry) == 0
	if s.cfg.Checkpoint == "" || (next.Equal(s.saved) && ended == s.ended) {
		return nil
	}
	cp := checkpoint{Version: checkpointVersion, Scenario: scenarioID(s.cfg, s.model.sc.Start), Start: s.model.sc.Start,
		Next: next, Grid: s.GridNow(), Ended: ended}
	if err := cp.save(s.cfg.Checkpoint); err != nil {
		s.log.Warn("checkpoint not saved", "error", err)
		return nil // the next run tries again; publishing goes on
	}
	s.saved, s.ended = next, ended
	return nil
}

// publishTo returns where records go: the sink, or a rapids producer of
// the simulator's own made on first use.
func (s *Simulator) publishTo() (PublishFunc, error) {
	if s.sink != nil {
		return s.sink, nil
	}
	p, err := rapids.NewProducer(s.svc.Config().Kafka)
	if err != nil {
		return nil, fmt.Errorf("simulator: producer: %w", err)
	}
	s.producer = p
	s.sink = func(ctx context.Context, recs ...rivers.Record) error {
		out := make([]rapids.Record, len(recs))
		for i, r := range recs {
			out[i] = rapids.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
		}
		return p.Publish(ctx, out...)
	}
	return s.sink, nil
}
