package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// DefaultCommandSource is the ce_source whose commands the meters obey
// when Config.CommandSource is empty.
const DefaultCommandSource = "/services/command-dispatcher"

// saltCommandDrop keeps the command-drop draws apart from the reads'.
const saltCommandDrop = saltMalformedKind + 100

// handleCommand is the simulated meters' side of meter.command.v1: the
// meter of the fleet the command names answers with meter.command.ack.v1,
// unless the attempt is lost (Config.CommandDropRate). A read_now with
// parameters.read_at sends the read the network lost again, under its own
// id (events.ReadingID), onto the rapids, then acks completed; a read it
// does not hold acks failed with the reason. Commands for meters outside
// the fleet are another gateway's: ignored. Commands from another source
// than Config.CommandSource are dead-lettered.
func (s *Simulator) handleCommand(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var c struct { // the keys the river declares
		CommandID  string                   `json:"command_id"`
		MeterID    string                   `json:"meter_id"`
		Command    string                   `json:"command"`
		Attempt    int                      `json:"attempt"`
		Parameters events.CommandParameters `json:"parameters"`
	}
	if err := ev.Decode(&c); err != nil {
		return err
	}
	src := s.cfg.CommandSource
	if src == "" {
		src = DefaultCommandSource
	}
	if ev.Source() != src {
		s.commands.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "refused")))
		return rivers.Permanent(fmt.Errorf("meter.command.v1 %s from %s refused: the meters obey only %s (SIM_COMMAND_SOURCE)",
			c.CommandID, ev.Source(), src))
	}
	if _, ok := s.model.fleet.meterIndex(c.MeterID); !ok {
		s.commands.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "not_in_fleet")))
		return nil
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(c.CommandID))
	if chance(s.cfg.CommandDropRate, s.model.fleet.cfg.Seed, h.Sum64()^uint64(c.Attempt), saltCommandDrop) {
		s.commands.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "dropped")))
		return nil
	}
	status, reason := events.AckCompleted, ""
	switch c.Command {
	case events.CommandReadNow:
		if c.Parameters.ReadAt.IsZero() {
			status, reason = events.AckRejected, "read_now without parameters.read_at: the simulated meters send their latest read on schedule"
			break
		}
		r, err := s.gen.Recall(c.MeterID, c.Parameters.ReadAt)
		if err != nil {
			status, reason = events.AckFailed, err.Error()
			if errors.Is(err, ErrUnknownMeter) {
				status = events.AckRejected
			}
			break
		}
		err = pub.Publish(ctx, events.TypeMeterReading,
			contracts.Identified{ID: events.ReadingID(r.MeterID, r.ReadAt), Data: json.RawMessage(r.AppendJSON(nil))},
			rivers.ToTopic(rivers.Rapids), rivers.WithKey(r.TransformerID), rivers.WithTime(s.GridNow()), rivers.WithTTL(s.readingTTL()))
		if err != nil {
			return err
		}
	case events.CommandSetInterval:
		status, reason = events.AckRejected, fmt.Sprintf("the simulated fleet reads every %s: interval changes are not simulated", s.model.sc.Interval)
	}
	s.commands.Add(ctx, 1, metric.WithAttributes(attribute.String("result", status)))
	return pub.Publish(ctx, events.TypeMeterCommandAck, events.MeterCommandAck{
		CommandID: c.CommandID, MeterID: c.MeterID, Attempt: c.Attempt, Status: status, Reason: reason,
		AckedAt: rivers.Now(ctx).UTC().Truncate(time.Millisecond),
	}, rivers.WithKey(c.MeterID))
}

func (s *Simulator) readingTTL() time.Duration {
	if s.cfg.ReadingTTL <= 0 {
		return -1 // never expires, as the encoder does
	}
	return s.cfg.ReadingTTL
}
