package gateway

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// requireEnv returns the address of a real server from the environment. It
// skips the test when the variable is unset, and fails it when CI=true (CI
// always provides the servers).
func requireEnv(t *testing.T, name string) string {
	t.Helper()
	return riverstest.RequireServer(t, name, "real MQTT broker")
}

// newKit serves a gateway whose MQTT side is fed by the test (or by a real
// broker at url, if reachable); dead letters go to the kit's bus.
func newKit(t *testing.T, url string) (*riverstest.Kit, *Gateway) {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.URL = url
	cfg.ClientID = "test-" + t.Name()
	bus := riverstest.NewBus()
	g, err := newGateway(svc, cfg, bus.Publish)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return riverstest.New(t, svc, riverstest.WithBus(bus)), g
}

func TestPumpPublishesAndDeadLetters(t *testing.T) {
	k, g := newKit(t, "tcp://127.0.0.1:1") // nothing listens: the MQTT side is fed by hand
	var mu sync.Mutex
	acked := map[string]bool{}
	feed := func(topic, payload string) {
		g.inbox <- message{topic: topic, payload: []byte(payload), received: riverstest.Start, ack: func() {
			mu.Lock()
			defer mu.Unlock()
			acked[topic] = true
		}}
	}
	feed("meters/MTR-7/reading", good)
	feed("meters/MTR-8/reading", `{"oops`)
	feed("meters/MTR-9/reading", strings.Replace(good, `900`, `"900"`, 1))
	k.Advance(PumpInterval)

	evs := k.Published(events.TypeMeterReading)
	if len(evs) != 1 {
		t.Fatalf("%d readings published", len(evs))
	}
	var r events.MeterReading
	if err := json.Unmarshal(evs[0].Data, &r); err != nil || r.MeterID != "MTR-7" || evs[0].PartitionKey != "TX-1" || !evs[0].Time.Equal(riverstest.Start) {
		t.Fatalf("published %+v (%v)", evs[0], err)
	}
	if recs := k.PublishedRecords(rivers.Rapids); len(recs) != 1 {
		t.Fatalf("%d records on the rapids", len(recs))
	}
	dls := k.Bus().Records("rapids.dlq")
	if len(dls) != 2 {
		t.Fatalf("%d dead letters", len(dls))
	}
	classes := map[string]string{}
	for _, rec := range dls {
		d, err := rivers.ParseDeadLetter(rec)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(d.OriginTopic, OriginPrefix+"meters/") || d.Service != Name {
			t.Fatalf("dead letter %+v", d)
		}
		classes[d.OriginTopic] = d.Class
		if d.OriginTopic == "mqtt:meters/MTR-8/reading" && (string(d.Message.Value) != `{"oops` || string(d.Message.Key) != "MTR-8") {
			t.Fatalf("payload %q key %q", d.Message.Value, d.Message.Key)
		}
	}
	if classes["mqtt:meters/MTR-8/reading"] != rivers.ClassMalformed || classes["mqtt:meters/MTR-9/reading"] != rivers.ClassSchema {
		t.Fatalf("classes %v", classes)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, topic := range []string{"meters/MTR-7/reading", "meters/MTR-8/reading", "meters/MTR-9/reading"} {
		if !acked[topic] {
			t.Errorf("%s not acknowledged", topic)
		}
	}
	if n := k.Metric("gateway_messages_dead_lettered_total"); n != 2 {
		t.Errorf("dead-letter metric %v", n)
	}
}

func TestPumpRetriesWhenTheBrokerFails(t *testing.T) {
	k, g := newKit(t, "tcp://127.0.0.1:1")
	var acks atomic.Int32
	g.inbox <- message{topic: "meters/MTR-7/reading", payload: []byte(good), received: riverstest.Start, ack: func() { acks.Add(1) }}
	refused := rivers.Permanent(errors.New("kafka refused the record"))
	k.Bus().FailPublish(refused, refused) // the batch, then the record alone
	k.Advance(PumpInterval)
	if acked := acks.Load(); acked != 0 || len(k.Published(events.TypeMeterReading)) != 0 {
		t.Fatalf("acked %d after a failed publish", acked)
	}
	k.Advance(PumpInterval)
	if acked := acks.Load(); acked != 1 || len(k.Published(events.TypeMeterReading)) != 1 {
		t.Fatalf("after the retry: acked %d, published %d", acked, len(k.Published(events.TypeMeterReading)))
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"MQTT_URL": "ssl://broker:8883", "MQTT_TOPIC": "site/+/meters", "MQTT_QOS": "2", "MQTT_KEEPALIVE": "10s"}
	c, err := configFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "ssl://broker:8883" || c.Topic != "site/+/meters" || c.QoS != 2 || c.KeepAlive != 10*time.Second || c.MaxInFlight != 256 {
		t.Fatalf("%+v", c)
	}
	for k, v := range map[string]string{"MQTT_URL": "http://x", "MQTT_QOS": "3", "MQTT_TOPIC": "a/#/b", "MQTT_KEEPALIVE": "soon", "MQTT_TLS_CERT_FILE": "/x.pem", "MQTT_TLS_INSECURE_SKIP_VERIFY": "maybe",
		"MQTT_COMMAND_TOPIC": "meters/+/commands", "MQTT_ACK_TOPIC": "meters/acks", "GATEWAY_DOWNLINK": "sometimes"} {
		_, err := configFromLookup(func(key string) (string, bool) { return v, key == k })
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

// TestRepublishedReadingKeepsItsID: a payload sent twice (a meter's retry,
// a QoS 1 redelivery) is published twice with one ce_id, the reading's own
// (events.ReadingID), so consumers de-duplicate it.
func TestRepublishedReadingKeepsItsID(t *testing.T) {
	k, g := newKit(t, "tcp://127.0.0.1:1")
	for range 2 {
		g.inbox <- message{topic: "meters/MTR-7/reading", payload: []byte(good), received: riverstest.Start}
	}
	k.Advance(PumpInterval)
	evs := k.Published(events.TypeMeterReading)
	if len(evs) != 2 {
		t.Fatalf("%d readings published, want 2", len(evs))
	}
	var r events.MeterReading
	if err := json.Unmarshal(evs[0].Data, &r); err != nil {
		t.Fatal(err)
	}
	want := events.ReadingID("MTR-7", r.ReadAt)
	if evs[0].ID != want || evs[1].ID != want {
		t.Fatalf("ids %q and %q, want both %q", evs[0].ID, evs[1].ID, want)
	}
}

// readingMeter returns the meter_id of a meter.reading.v1 payload (the
// rapids are keyed by transformer, not by meter).
func readingMeter(t *testing.T, value []byte) string {
	t.Helper()
	var r struct {
		MeterID string `json:"meter_id"`
	}
	if err := json.Unmarshal(value, &r); err != nil {
		t.Fatal(err)
	}
	return r.MeterID
}
