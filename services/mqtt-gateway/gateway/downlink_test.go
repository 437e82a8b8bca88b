package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// TestIntegrationDownlink: over a real mosquitto, a simulated device
// answers one command at once, answers another late, drops a third, and
// sends an ack that is no JSON. The gateway forwards only the dispatcher's
// commands for meters it has heard from, turns the device's acks into
// meter.command.ack.v1, dead-letters a command from another source (in
// rivers.dlq) and the broken ack (in rapids.dlq, origin its MQTT topic).
func TestIntegrationDownlink(t *testing.T) {
	broker := requireEnv(t, "WATERSHED_TEST_MQTT")
	kcfg := kafkaConfig(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := rapids.EnsureTopics(ctx, kcfg); err != nil {
		t.Fatal(err)
	}
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", Kafka: kcfg})
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf("watershed-test-%d", time.Now().UnixNano())
	cfg := DefaultConfig()
	cfg.URL = broker
	cfg.Topic = suffix + "/+/reading"
	cfg.CommandTopic = suffix + "/{meter}/commands"
	cfg.AckTopic = suffix + "/+/acks"
	cfg.ClientID = "gw-" + suffix
	cfg.ReconnectBackoff = 100 * time.Millisecond
	g, err := newGateway(svc, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with %v", err)
		}
	})

	// The device: answers CMD-NOW at once and CMD-LATE after a while, drops
	// CMD-DROP, and acks CMD-BROKEN with garbage. It handles its commands in
	// the order they come, so an ack of CMD-DROP would come before CMD-NOW's.
	device := mqttPublisher(t, ctx, broker)
	ackTopic := suffix + "/MTR-1/acks"
	got := make(chan string, 16)
	device.AddOnPublishReceived(func(pr autopaho.PublishReceived) (bool, error) {
		var c events.MeterCommand
		if err := json.Unmarshal(pr.Packet.Payload, &c); err != nil {
			got <- "undecodable command: " + err.Error()
			return true, nil
		}
		got <- c.CommandID
		var payload []byte
		switch c.CommandID {
		case "CMD-DROP":
			return true, nil
		case "CMD-BROKEN":
			payload = []byte("ack!")
		case "CMD-LATE":
			time.Sleep(300 * time.Millisecond)
			fallthrough
		default:
			payload, _ = json.Marshal(deviceAck{CommandID: c.CommandID, Attempt: c.Attempt, Status: events.AckCompleted})
		}
		go func() {
			if _, err := device.Publish(ctx, &paho.Publish{QoS: 1, Topic: ackTopic, Payload: payload}); err != nil {
				got <- "ack not published: " + err.Error()
			}
		}()
		return true, nil
	})
	if _, err := device.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: suffix + "/MTR-1/commands", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	for !g.Connected() {
		select {
		case <-ctx.Done():
			t.Fatal("gateway never connected")
		case <-time.After(20 * time.Millisecond):
		}
	}

	cons, err := rapids.NewConsumer(kcfg, "test-downlink", []string{kcfg.Topics.Rapids, kcfg.Topics.Rivers,
		rapids.DLQ(kcfg.Topics.Rapids), rapids.DLQ(kcfg.Topics.Rivers)})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	// The meter speaks first: until then it is not this gateway's. (The
	// gateway's subscription follows its connection: send until it lands.)
	var served bool
	for !served {
		if _, err := device.Publish(ctx, &paho.Publish{QoS: 1, Topic: suffix + "/MTR-1/reading", Payload: []byte(good)}); err != nil {
			t.Fatal(err)
		}
		fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
		for {
			rec, err := cons.Fetch(fctx)
			if err != nil {
				break
			}
			if rec.Topic == kcfg.Topics.Rapids && readingMeter(t, rec.Value) == "MTR-1" {
				served = true
				break
			}
		}
		fcancel()
		if ctx.Err() != nil {
			t.Fatal("the device's reading never reached the rapids")
		}
	}

	prod, err := rapids.NewProducer(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	command := func(source, id, meter string) {
		t.Helper()
		e, err := contracts.New(source, events.TypeMeterCommand, events.MeterCommand{
			CommandID: id, MeterID: meter, Command: events.CommandReadNow, IssuedAt: time.Now().UTC(),
			Attempt: 1, MaxAttempts: 3, AckTimeoutSeconds: 5, RequestedBy: "/services/gap-detector"})
		if err != nil {
			t.Fatal(err)
		}
		e.PartitionKey = meter
		m, err := contracts.EncodeBinary(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.Publish(ctx, rapids.Record{Topic: kcfg.Topics.Rivers, Key: m.Key, Value: m.Value, Headers: m.Headers}); err != nil {
			t.Fatal(err)
		}
	}
	dispatcher := cfg.CommandSource
	command(dispatcher, "CMD-DROP", "MTR-1")
	command(dispatcher, "CMD-OTHER", "MTR-9") // another gateway's meter
	command("/services/prankster", "CMD-EVIL", "MTR-1")
	command(dispatcher, "CMD-NOW", "MTR-1")
	command(dispatcher, "CMD-BROKEN", "MTR-1")
	command(dispatcher, "CMD-LATE", "MTR-1")

	acks := map[string]events.MeterCommandAck{}
	var evil, broken bool
	for len(acks) < 2 || !evil || !broken {
		rec, err := cons.Fetch(ctx)
		if err != nil {
			t.Fatalf("waiting: acks %v, evil letter %v, broken-ack letter %v: %v", acks, evil, broken, err)
		}
		switch rec.Topic {
		case kcfg.Topics.Rivers:
			e, err := contracts.DecodeBinary(rec.Message())
			if err != nil {
				t.Fatal(err)
			}
			if e.Type != events.TypeMeterCommandAck {
				continue
			}
			var a events.MeterCommandAck
			if err := json.Unmarshal(e.Data, &a); err != nil {
				t.Fatal(err)
			}
			if e.Source != "/services/"+Name {
				t.Errorf("ack from %s", e.Source)
			}
			acks[a.CommandID] = a
		case rapids.DLQ(kcfg.Topics.Rivers), rapids.DLQ(kcfg.Topics.Rapids):
			d, err := rivers.ParseDeadLetter(rivers.Record{Key: rec.Key, Value: rec.Value, Headers: rec.Headers})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.Contains(d.Error, "/services/prankster"):
				evil = true
			case d.OriginTopic == OriginPrefix+ackTopic && string(d.Message.Value) == "ack!":
				broken = true
			default:
				t.Errorf("unexpected dead letter %+v", d)
			}
		}
	}
	for _, id := range []string{"CMD-NOW", "CMD-LATE"} {
		a, ok := acks[id]
		if !ok || a.MeterID != "MTR-1" || a.Attempt != 1 || a.Status != events.AckCompleted || a.AckedAt.IsZero() {
			t.Errorf("ack of %s = %+v (present %v), want MTR-1 attempt 1 completed", id, a, ok)
		}
	}
	if _, ok := acks["CMD-DROP"]; ok {
		t.Error("the dropped command was acknowledged")
	}
	// What reached the device, in order: only MTR-1's commands from the
	// dispatcher (not MTR-9's, not the prankster's).
	var seen []string
	for len(got) > 0 {
		seen = append(seen, <-got)
	}
	if want := "CMD-DROP CMD-NOW CMD-BROKEN CMD-LATE"; strings.Join(seen, " ") != want {
		t.Errorf("the device got %v, want %s", seen, want)
	}
}
