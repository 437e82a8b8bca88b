package gapdetector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Detector is the gap detector registered on a service: a Tracker behind a
// mutex, its checkpoints and its metrics.
type Detector struct {
	cfg   Config
	store CheckpointStore
	log   *slog.Logger

	mu sync.Mutex
	tr *Tracker
	// pending are slots judged missed by the handler, published by the
	// next tick; judged is the watermark of the handler's last judgement.
	pending []Missed
	judged  time.Time

	reads, missed, late metric.Int64Counter
}

// Register adds the gap detector to svc: the river of meter.reading.v1 on
// the rapids, the timer that declares due slots missed (Config.Tick) and the
// checkpoint timer (Config.CheckpointEvery). It loads the last checkpoint
// when a store is configured.
func Register(svc *rivers.Service, cfg Config) error {
	_, err := Attach(svc, cfg)
	return err
}

// Attach is Register returning the Detector, for tests and tools.
func Attach(svc *rivers.Service, cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: cfg, store: cfg.Checkpoints, log: svc.Logger(), tr: NewTracker(cfg.tracker().withAtEnd(svc))}
	if d.store == nil && cfg.CheckpointDir != "" {
		d.store = FileCheckpoints{Dir: cfg.CheckpointDir}
	}
	// The state of each rapids partition is rebuilt from the partition's
	// own history when the group assigns it (rivers.PartitionState), at
	// the start too: a checkpoint is not restored, so it can never bring
	// back meters of partitions another instance holds now.
	drop := func(tp rivers.TopicPartition) { d.dropPartition(tp.Partition) }
	svc.KeepPartitionState(rivers.PartitionState{Topics: []rivers.Topic{rivers.Rapids}, History: cfg.History,
		Assigned: drop, Revoked: drop})
	m := svc.Meter()
	var errs [3]error
	d.reads, errs[0] = m.Int64Counter("watershed_gap_reads_total", metric.WithDescription("Readings seen, by outcome."))
	d.missed, errs[1] = m.Int64Counter("watershed_gap_missed_total", metric.WithDescription("meter.reading.missed.v1 published."))
	d.late, errs[2] = m.Int64Counter("watershed_gap_late_total", metric.WithDescription("meter.reading.late.v1 published."))
	if _, err := m.Int64ObservableGauge("watershed_gap_meters", metric.WithDescription("Meters tracked."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			d.mu.Lock()
			defer d.mu.Unlock()
			o.Observe(int64(d.tr.Meters()))
			return nil
		})); err != nil {
		errs[0] = errors.Join(errs[0], err)
	}
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("gapdetector: metrics: %w", err)
	}
	river := rivers.NewRiver(events.TypeMeterReading).Named("readings").OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total").
		Interested("flags", "demand_kw", "voltage_v") // the whole reading, decoded in one pass
	rivers.HandleBatch(svc, river, d.handle)
	svc.Publishes(events.TypeMeterReadingMissed, events.TypeMeterReadingLate)
	svc.Every(cfg.Tick, "declare-missed", d.tick)
	if d.store != nil && cfg.CheckpointEvery > 0 {
		svc.Every(cfg.CheckpointEvery, "checkpoint", func(ctx context.Context, _ time.Time, _ rivers.Publisher) error {
			return d.Checkpoint(ctx)
		})
	}
	return d, nil
}

func (d *Detector) dropPartition(p int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tr.DropPartition(p)
	// The watermark may move back (Forget): judge again from there. Slots
	// judged and not yet published stay pending: they are this instance's
	// conclusions about the partitions it keeps, or the next owner's to
	// judge again (the ids are the slots', a repeat is the same event).
	d.judged = time.Time{}
}

func (d *Detector) count(outcome string) {
	d.reads.Add(context.Background(), 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}

// handle observes a batch of readings of one partition under one lock,
// then publishes the late reads it found. It stops at the first reading the
// tracker refuses (dead-lettered alone; the rest come in the next call).
func (d *Detector) handle(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	var counts [len(outcomeNames)]int64
	var clockInvalid int64
	type late struct {
		i int
		l Late
	}
	var lates []late
	failed, failure := -1, error(nil)
	d.mu.Lock()
	for i := range b.Len() {
		r, dl := b.Value(i), b.Delivery(i)
		if slices.Contains(r.Flags, events.FlagClockInvalid) {
			clockInvalid++
			continue
		}
		obs, err := d.tr.Observe(Read{MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
			ReadAt: r.ReadAt, Interval: time.Duration(r.IntervalSeconds) * time.Second, EnergyKWh: r.EnergyKWhTotal,
			Partition: dl.Partition, Behind: dl.Behind, RecordTime: dl.RecordTime})
		if err != nil {
			failed, failure = i, err
			break
		}
		if int(obs.Outcome) < len(counts) {
			counts[obs.Outcome]++
		}
		if obs.Resumed != nil {
			d.log.DebugContext(ctx, "meter resumed", "meter_id", r.MeterID, "silent_since", obs.Resumed.SilentSince, "missed", obs.Resumed.Missed)
		}
		if obs.Late != nil {
			lates = append(lates, late{i, *obs.Late})
		}
	}
	d.judge()
	d.mu.Unlock()
	for o, n := range counts {
		if n > 0 {
			d.reads.Add(ctx, n, metric.WithAttributes(attribute.String("outcome", Outcome(o).String())))
		}
	}
	if clockInvalid > 0 {
		d.reads.Add(ctx, clockInvalid, metric.WithAttributes(attribute.String("outcome", "clock_invalid")))
	}
	for _, l := range lates {
		if err := b.Publisher(l.i).Publish(ctx, events.TypeMeterReadingLate, LatePayload(l.l), rivers.WithTime(l.l.ReadAt),
			rivers.WithID(rivers.DerivedID(events.TypeMeterReadingLate, l.l.MeterID, l.l.ReadAt.UTC().Format(time.RFC3339)))); err != nil && !errors.Is(err, rivers.ErrRetired) {
			// The slot is judged already: retrying would not find it late again.
			d.log.ErrorContext(ctx, "late read not published", "meter_id", l.l.MeterID, "read_at", l.l.ReadAt, "err", err)
			continue
		}
		d.late.Add(ctx, 1)
	}
	if failed >= 0 {
		d.count("invalid")
		return &rivers.BatchError{Index: failed, Err: rivers.Permanent(failure)}
	}
	return nil
}

// judgeEvery is how far the watermark moves between the judgements the
// handler makes (judge).
const judgeEvery = 15 * time.Minute

// judge declares the due slots when the watermark moved judgeEvery since
// the last judgement, keeping them for the next tick to publish. The
// tracker remembers 64 slots per meter: judged only on the timer, a
// backlog read faster than the timer runs (after a replay, a pause, a
// restart) could carry a meter's newest read more than 64 slots past its
// last judged slot, and the slots in between would never be judged.
// Judging as the reads come keeps up with any pace, a replay's included
// (a partition's history is longer than 64 slots); publishing stays the
// timer's, so what a replay judges is published too, after it (timers wait
// for replays): a slot the previous owner declared is declared again with
// the same id, one it had not judged yet is not lost. Call with d.mu held.
func (d *Detector) judge() {
	wm := d.tr.LowWatermark()
	if wm.IsZero() || wm.Sub(d.judged) < judgeEvery {
		return
	}
	d.judged = wm
	d.tr.Advance(func(m Missed) { d.pending = append(d.pending, m) })
}

func (d *Detector) tick(ctx context.Context, _ time.Time, pub rivers.Publisher) error {
	d.mu.Lock()
	due := d.pending
	d.pending = nil
	d.tr.Advance(func(m Missed) { due = append(due, m) })
	d.mu.Unlock()
	// The slots are judged already: a publication that fails is logged and
	// skipped, never retried (a retry would not find them due again).
	for _, m := range due {
		// The id is the slot's: an instance that took the meter's
		// partition over and declares the slot again publishes the same
		// event, which consumers de-duplicate.
		id := rivers.DerivedID(events.TypeMeterReadingMissed, m.MeterID, m.ExpectedAt.UTC().Format(time.RFC3339))
		if err := pub.Publish(ctx, events.TypeMeterReadingMissed, MissedPayload(m, d.cfg.Grace), rivers.WithTime(m.ExpectedAt), rivers.WithID(id)); err != nil {
			if !errors.Is(err, rivers.ErrRetired) {
				d.log.ErrorContext(ctx, "missed read not published", "meter_id", m.MeterID, "expected_at", m.ExpectedAt, "err", err)
			}
			continue
		}
		d.missed.Add(ctx, 1)
	}
	return nil
}

// Checkpoint saves the tracker's state to the store (a no-op without one).
func (d *Detector) Checkpoint(ctx context.Context) error {
	if d.store == nil {
		return nil
	}
	_, err := d.save(ctx)
	return err
}

// save stores the tracker's state in the store and returns it.
func (d *Detector) save(ctx context.Context) ([]byte, error) {
	d.mu.Lock()
	data, err := d.tr.MarshalBinary()
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := d.store.Save(ctx, d.cfg.CheckpointName, data); err != nil {
		return nil, fmt.Errorf("gapdetector: save checkpoint: %w", err)
	}
	return data, nil
}

// finalSuffix names the marker of a final checkpoint: the SHA-256 of the
// checkpoint Stopped saved. A later periodic checkpoint no longer matches it.
const finalSuffix = ".final"

// Stopped saves the final checkpoint once the service has stopped: call it
// after rivers.Service.Run (or Serve) returned, with its error. After a
// clean stop (runErr nil) every read the tracker holds is handled and
// committed, so the checkpoint is exact and the next start restores it
// without a warm-up: a restart concludes what an uninterrupted run would
// have. After an unclean stop it saves the state as a periodic checkpoint
// would (the warm-up applies on restore).
func (d *Detector) Stopped(ctx context.Context, runErr error) error {
	if d.store == nil {
		return nil
	}
	data, err := d.save(ctx)
	if err != nil {
		return err
	}
	mark := []byte("not final")
	if runErr == nil {
		sum := sha256.Sum256(data)
		mark = sum[:]
	}
	if err := d.store.Save(ctx, d.cfg.CheckpointName+finalSuffix, mark); err != nil {
		return fmt.Errorf("gapdetector: save final checkpoint: %w", err)
	}
	return nil
}

func (d *Detector) restore(ctx context.Context) error {
	if d.store == nil {
		return nil
	}
	data, err := d.store.Load(ctx, d.cfg.CheckpointName)
	if errors.Is(err, ErrNoCheckpoint) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gapdetector: load checkpoint: %w", err)
	}
	if err := d.tr.UnmarshalBinary(data); err != nil {
		// A checkpoint that cannot be read is not a reason to stay down: start
		// empty (the warm-up keeps the rivers quiet) and say so.
		d.log.Warn("checkpoint unreadable, starting empty", "name", d.cfg.CheckpointName, "err", err)
		return nil
	}
	final := false
	if mark, err := d.store.Load(ctx, d.cfg.CheckpointName+finalSuffix); err == nil {
		sum := sha256.Sum256(data)
		final = bytes.Equal(mark, sum[:])
	}
	if final {
		d.tr.Resume()
	}
	d.log.Info("checkpoint restored", "meters", d.tr.Meters(), "watermark", d.tr.Watermark(), "final", final)
	return nil
}

// Tracker returns the detector's tracker under its lock, for tests and
// tools: f must not keep it.
func (d *Detector) Tracker(f func(*Tracker)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d.tr)
}

// MissedPayload is the meter.reading.missed.v1 of m.
func MissedPayload(m Missed, grace time.Duration) events.MeterReadingMissed {
	return events.MeterReadingMissed{
		MeterID: m.MeterID, TransformerID: m.TransformerID, FeederID: m.FeederID,
		ExpectedAt: m.ExpectedAt, IntervalSeconds: int(m.Interval / time.Second),
		GraceSeconds: grace.Seconds(), ConsecutiveMissed: m.Consecutive,
		LastReadAt: m.LastReadAt, LastEnergyKWhTotal: m.LastEnergyKWh, DetectedAt: m.DetectedAt,
	}
}

// LatePayload is the meter.reading.late.v1 of l.
func LatePayload(l Late) events.MeterReadingLate {
	return events.MeterReadingLate{
		MeterID: l.MeterID, TransformerID: l.TransformerID, FeederID: l.FeederID,
		ReadAt: l.ReadAt, IntervalSeconds: int(l.Interval / time.Second), EnergyKWhTotal: l.EnergyKWh,
		ReceivedAt: l.ReceivedAt, MissedDetectedAt: l.MissedDetectedAt,
		DelaySeconds: max(l.ReceivedAt.Sub(l.ReadAt).Seconds(), 0),
	}
}

// withAtEnd sets AtEnd and Assigned from svc's reading of the rapids.
func (c TrackerConfig) withAtEnd(svc *rivers.Service) TrackerConfig {
	topic := svc.Config().Kafka.Topics.Rapids
	c.AtEnd = func(p int) bool { return svc.AtEnd(topic, p) }
	c.Assigned = func() ([]int, bool) { return svc.Assigned(topic) }
	return c
}
