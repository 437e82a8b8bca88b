package validator

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Register adds the validator to svc: a river on the rapids for
// meter.reading.v1 and the publication of meter.reading.rejected.v1 and
// meter.reading.anomalous.v1 to the rivers. Good reads publish nothing.
func Register(svc *rivers.Service, cfg Config) error {
	v, err := New(cfg)
	if err != nil {
		return err
	}
	_, err = register(svc, v)
	return err
}

// history is how much record time of a rapids partition an instance
// replays when assigned it: the validator remembers 64 intervals per
// meter (16 hours at 15 minutes); a day covers them.
const history = 24 * time.Hour

// handler is the validator's river handler with its counters.
type handler struct {
	v        *Validator
	wall     func() time.Time
	findings metric.Int64Counter
	checked  metric.Int64Counter
}

func register(svc *rivers.Service, v *Validator) (*handler, error) {
	m := svc.Meter()
	h := &handler{v: v, wall: time.Now}
	var err error
	if h.findings, err = m.Int64Counter("validator_findings_total",
		metric.WithDescription("Reads that tripped a rule, by rule and severity")); err != nil {
		return nil, err
	}
	if h.checked, err = m.Int64Counter("validator_reads_checked_total",
		metric.WithDescription("Reads checked")); err != nil {
		return nil, err
	}
	river := rivers.NewRiver(events.TypeMeterReading).
		Named("readings").
		OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags")
	rivers.HandleBatch(svc, river, h.handleBatch)
	// The meters' state per rapids partition is rebuilt from the
	// partition's history when the group assigns it, and dropped when a
	// rebalance takes it away: N instances judge as one.
	drop := func(tp rivers.TopicPartition) { v.DropPartition(tp.Partition) }
	svc.KeepPartitionState(rivers.PartitionState{Topics: []rivers.Topic{rivers.Rapids}, History: history,
		Assigned: drop, Revoked: drop})
	svc.Publishes(events.TypeMeterReadingRejected, events.TypeMeterReadingAnomalous)
	return h, nil
}

// handleBatch checks a batch of readings of one partition in order.
func (h *handler) handleBatch(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	h.checked.Add(ctx, int64(b.Len()))
	for i := range b.Len() {
		if err := h.check(ctx, b.Event(i), b.Value(i), b.Delivery(i).Partition, b.Publisher(i)); err != nil {
			return &rivers.BatchError{Index: i, Err: err}
		}
	}
	return nil
}

// check runs the rules on one reading and publishes its findings.
func (h *handler) check(ctx context.Context, ev rivers.Event, r *events.MeterReading, part int, pub rivers.Publisher) error {
	ref := ev.OccurredAt()
	if h.v.cfg.Reference == ReferenceWall || ref.IsZero() {
		ref = h.wall()
	}
	var buf [4]Finding
	fs := h.v.CheckFrom(buf[:0], r, ref, part)
	if len(fs) == 0 {
		return nil
	}
	now := h.wall().UTC()
	for _, f := range fs {
		h.findings.Add(ctx, 1, metric.WithAttributes(attrRule(f.Rule), attrSeverity(f.Severity)))
		if f.Severity == Rejected {
			env := ev.Envelope()
			err := pub.Publish(ctx, events.TypeMeterReadingRejected, events.MeterReadingRejected{
				MeterID: r.MeterID, ReadingEventID: env.ID, ReadingSource: env.Source,
				Reading: json.RawMessage(env.Data), Rule: f.Rule, Reason: f.Reason, RejectedAt: now,
			}, rivers.WithKey(r.MeterID), rivers.WithTime(now), findingID(events.TypeMeterReadingRejected, ev, f))
			if err != nil && !errors.Is(err, rivers.ErrRetired) {
				return err
			}
			continue
		}
		a := events.MeterReadingAnomalous{
			MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID, ReadAt: r.ReadAt,
			ReadingEventID: ev.ID(), Reading: *r, Rule: f.Rule, Reason: f.Reason, Field: f.Field, DetectedAt: now,
		}
		if f.Field != "" {
			val, th := f.Value, f.Threshold
			a.Value, a.Threshold = &val, &th
		}
		if err := pub.Publish(ctx, events.TypeMeterReadingAnomalous, a, rivers.WithKey(r.MeterID), rivers.WithTime(now), findingID(events.TypeMeterReadingAnomalous, ev, f)); err != nil && !errors.Is(err, rivers.ErrRetired) {
			return err
		}
	}
	return nil
}

// findingID is the id of a finding's event: derived from the reading and
// the rule, so an instance that took the reading's partition over and
// judges it again publishes the same event.
func findingID(typ string, ev rivers.Event, f Finding) rivers.PublishOption {
	env := ev.Envelope()
	return rivers.WithID(rivers.DerivedID(typ, env.Source, env.ID, f.Rule))
}
