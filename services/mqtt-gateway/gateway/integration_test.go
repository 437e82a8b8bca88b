package gateway

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
)

// kafkaConfig returns a broker: real Kafka when WATERSHED_TEST_KAFKA is set,
// else the embedded broker on a free port; topics unique to the test.
func kafkaConfig(t *testing.T) rapids.Config {
	t.Helper()
	cfg := rapids.DefaultConfig()
	if addr := os.Getenv("WATERSHED_TEST_KAFKA"); addr != "" {
		cfg.Brokers = []string{addr}
	} else {
		b, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", Partitions: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		cfg.Brokers = []string{b.Addr()}
	}
	suffix := fmt.Sprintf("-%d", time.Now().UnixNano())
	cfg.Topics = rapids.Topics{Rapids: "rapids" + suffix, Rivers: "rivers" + suffix}
	return cfg
}

// mqttPublisher connects a plain client to the broker under test.
func mqttPublisher(t *testing.T, ctx context.Context, broker string) *autopaho.ConnectionManager {
	t.Helper()
	u, err := url.Parse(broker)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 10, CleanStartOnInitialConnection: true,
		ClientConfig: paho.ClientConfig{ClientID: fmt.Sprintf("test-pub-%d", time.Now().UnixNano())},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.AwaitConnection(ctx); err != nil {
		t.Fatal(err)
	}
	return cm
}

// TestIntegrationMQTTToRapids: a payload published over a real mosquitto
// reaches the rapids as meter.reading.v1, a malformed one reaches
// rapids.dlq with its MQTT topic as origin, and a dropped connection is
// re-established (and resubscribed) on its own.
func TestIntegrationMQTTToRapids(t *testing.T) {
	broker := requireEnv(t, "WATERSHED_TEST_MQTT")
	kcfg := kafkaConfig(t)
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", Kafka: kcfg})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.URL = broker
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	cfg.Topic = "watershed-test-" + suffix + "/+/reading"
	cfg.ClientID = "watershed-gateway-test-" + suffix
	cfg.ReconnectBackoff = 100 * time.Millisecond
	g, err := newGateway(svc, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with %v", err)
		}
	})
	for !g.Connected() {
		select {
		case <-ctx.Done():
			t.Fatal("gateway never connected")
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(200 * time.Millisecond) // the subscription follows the connection
	pubc := mqttPublisher(t, ctx, broker)
	send := func(meter, payload string) {
		t.Helper()
		if _, err := pubc.Publish(ctx, &paho.Publish{QoS: 1, Topic: "watershed-test-" + suffix + "/" + meter + "/reading", Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	send("MTR-1", good)
	send("MTR-2", `not json at all`)

	if err := rapids.EnsureTopics(ctx, kcfg); err != nil {
		t.Fatal(err)
	}
	cons, err := rapids.NewConsumer(kcfg, "test-reader", []string{kcfg.Topics.Rapids, rapids.DLQ(kcfg.Topics.Rapids)})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	want := map[string]bool{"MTR-1": true, "dlq:MTR-2": true}
	for len(want) > 0 {
		rec, err := cons.Fetch(ctx)
		if err != nil {
			t.Fatalf("still waiting for %v: %v", want, err)
		}
		switch rec.Topic {
		case kcfg.Topics.Rapids:
			e, err := contracts.DecodeBinary(rec.Message())
			if err != nil || e.Type != events.TypeMeterReading {
				t.Fatalf("rapids record %v: %v", e.Type, err)
			}
			if string(rec.Key) != "TX-1" {
				t.Fatalf("reading keyed %q, want its transformer TX-1", rec.Key)
			}
			delete(want, readingMeter(t, rec.Value))
		default:
			d, err := rivers.ParseDeadLetter(rivers.Record{Key: rec.Key, Value: rec.Value, Headers: rec.Headers})
			if err != nil {
				t.Fatal(err)
			}
			if d.OriginTopic != OriginPrefix+"watershed-test-"+suffix+"/MTR-2/reading" || d.Class != rivers.ClassMalformed || string(d.Message.Value) != "not json at all" {
				t.Fatalf("dead letter %+v", d)
			}
			delete(want, "dlq:"+string(rec.Key))
		}
	}

	// Drop the connection: autopaho reconnects and resubscribes.
	g.mu.Lock()
	cm := g.cm
	g.mu.Unlock()
	cm.TerminateConnectionForTest()
	deadline := time.Now().Add(30 * time.Second)
	for g.gen.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no reconnection")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	send("MTR-3", good)
	for {
		rec, err := cons.Fetch(ctx)
		if err != nil {
			t.Fatalf("no reading after the reconnection: %v", err)
		}
		if rec.Topic == kcfg.Topics.Rapids && readingMeter(t, rec.Value) == "MTR-3" {
			break
		}
	}
}
