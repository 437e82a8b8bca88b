package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// The downlink: the command-dispatcher's meter.command.v1 attempts go to
// the devices this gateway serves, and their acks come back as
// meter.command.ack.v1. The dispatcher owns retries and timeouts; the
// gateway forwards each attempt once (QoS 1 to the broker) and translates
// each ack, so a lost message is the dispatcher's to replay.

// served is the set of meters whose readings came through this gateway:
// a command for another meter is another gateway's (or the simulator's).
type served struct {
	mu     sync.Mutex
	meters map[string]struct{}
}

func (s *served) add(meter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.meters == nil {
		s.meters = map[string]struct{}{}
	}
	s.meters[meter] = struct{}{}
}

func (s *served) has(meter string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.meters[meter]
	return ok
}

// registerDownlink subscribes the gateway to the commands when the
// downlink is on.
func (g *Gateway) registerDownlink() error {
	if !g.cfg.Downlink {
		return nil
	}
	var err error
	if g.commands, err = g.svc.Meter().Int64Counter("gateway_commands_total",
		metric.WithDescription("meter.command.v1 seen by the downlink, by result: sent, not_served, refused")); err != nil {
		return err
	}
	if g.acks, err = g.svc.Meter().Int64Counter("gateway_acks_published_total",
		metric.WithDescription("device acks published as meter.command.ack.v1")); err != nil {
		return err
	}
	g.svc.Handle(rivers.NewRiver(events.TypeMeterCommand).Named("downlink").
		Require("command_id", "meter_id", "attempt"), g.handleCommand)
	g.svc.Publishes(events.TypeMeterCommandAck)
	return nil
}

// handleCommand publishes one command attempt to its meter's topic. A
// command from another source than CommandSource is dead-lettered; one for
// a meter this gateway has not heard from is not its to send. Not being
// connected is transient: the SDK retries.
func (g *Gateway) handleCommand(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
	var c struct {
		CommandID string `json:"command_id"`
		MeterID   string `json:"meter_id"`
		Attempt   int    `json:"attempt"`
	}
	if err := ev.Decode(&c); err != nil {
		return err
	}
	if ev.Source() != g.cfg.CommandSource {
		g.commands.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "refused")))
		return rivers.Permanent(fmt.Errorf("meter.command.v1 %s from %s refused: the gateway forwards only %s's commands (GATEWAY_COMMAND_SOURCE)",
			c.CommandID, ev.Source(), g.cfg.CommandSource))
	}
	if !g.meters.has(c.MeterID) {
		g.commands.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "not_served")))
		return nil
	}
	if strings.ContainsAny(c.MeterID, "/+#") {
		return rivers.Permanent(fmt.Errorf("meter id %q cannot be an MQTT topic level", c.MeterID))
	}
	g.mu.Lock()
	cm := g.cm
	g.mu.Unlock()
	if cm == nil || !g.up.Load() {
		return fmt.Errorf("command %s to %s: not connected to the MQTT broker", c.CommandID, c.MeterID)
	}
	topic := strings.Replace(g.cfg.CommandTopic, "{meter}", c.MeterID, 1)
	if _, err := cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: ev.Envelope().Data}); err != nil {
		return fmt.Errorf("command %s to %s: %w", c.CommandID, topic, err)
	}
	g.commands.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "sent")))
	return nil
}

// deviceAck is what a device publishes on its ack topic. Its meter is the
// topic's; acked_at defaults to when the gateway received it.
type deviceAck struct {
	CommandID string    `json:"command_id"`
	Attempt   int       `json:"attempt"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	AckedAt   time.Time `json:"acked_at"`
}

// errBadAck is wrapped by an ack payload that cannot become an event.
var errBadAck = errors.New("not a device ack")

// publishAck turns a device's ack into meter.command.ack.v1. An error
// wrapping rivers.ErrInvalidEvent or errBadAck is permanent (dead-letter
// the payload); any other is transient.
func (g *Gateway) publishAck(ctx context.Context, m message, meter string) error {
	var a deviceAck
	if err := json.Unmarshal(m.payload, &a); err != nil {
		return fmt.Errorf("%w: %w", errBadAck, err)
	}
	if a.AckedAt.IsZero() {
		a.AckedAt = m.received
	}
	err := g.svc.Publish(ctx, events.TypeMeterCommandAck, events.MeterCommandAck{
		CommandID: a.CommandID, MeterID: meter, Attempt: a.Attempt, Status: a.Status, Reason: a.Reason,
		AckedAt: a.AckedAt.UTC(),
	}, rivers.WithKey(meter))
	if err == nil {
		g.acks.Add(ctx, 1)
	}
	return err
}
