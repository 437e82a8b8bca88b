package feederagg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
)

// kafkaConfig returns the Kafka configuration of an integration test: the
// real broker at WATERSHED_TEST_KAFKA when set, else an embedded broker
// started for the test. Topics are unique to the test.
func kafkaConfig(t *testing.T) rapids.Config {
	t.Helper()
	addr := os.Getenv("WATERSHED_TEST_KAFKA")
	if addr == "" {
		b, err := embedded.Start(context.Background(), embedded.Options{Addr: "127.0.0.1:0", Partitions: 3,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		addr = b.Addr()
	}
	suffix := contracts.NewID()[:8] + fmt.Sprint(time.Now().UnixNano()%1e6)
	cfg := rapids.DefaultConfig()
	cfg.Brokers = []string{addr}
	cfg.Topics = rapids.Topics{Rapids: "rapids-" + suffix, Rivers: "rivers-" + suffix}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rapids.EnsureTopics(ctx, cfg, rapids.DefaultTopicSpecs(cfg)...); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startService runs a rivers service with attach's handlers on kc until
// the test ends.
func startService(t *testing.T, kc rapids.Config, name string, attach func(*rivers.Service) error) {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: name, Version: "v0.0.0-test", Kafka: kc, HTTPAddr: "off",
		Group: name + "-" + kc.Topics.Rivers, HeartbeatInterval: time.Second, LogLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	if err := attach(svc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("service stopped: %v", err)
		}
	})
}

func publishReadings(t *testing.T, kc rapids.Config, readings ...events.MeterReading) {
	t.Helper()
	p, err := rapids.NewProducer(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var recs []rapids.Record
	for _, r := range readings {
		ev, err := contracts.New("/services/meter-simulator", events.TypeMeterReading, r)
		if err != nil {
			t.Fatal(err)
		}
		ev.PartitionKey = r.TransformerID // the rapids' key
		rec, err := rapids.NewRecord(kc.Topics.Rapids, ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
}

// riverEvents returns a function that reads the rivers until want events
// of type typ arrived (validating each against the catalog) or the time is
// up.
func riverEvents(t *testing.T, kc rapids.Config) func(typ string, want int) []contracts.Event {
	t.Helper()
	c, err := rapids.NewConsumer(kc, "test-"+kc.Topics.Rivers, []string{kc.Topics.Rivers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	seen := map[string][]contracts.Event{}
	return func(typ string, want int) []contracts.Event {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		for len(seen[typ]) < want {
			rec, err := c.Fetch(ctx)
			if err != nil {
				t.Fatalf("waiting for %d %s, got %d: %v", want, typ, len(seen[typ]), err)
			}
			ev, err := contracts.DecodeBinary(rec.Message())
			if err != nil {
				t.Fatal(err)
			}
			if err := catalog.Default().Validate(ev.Type, ev.Data); err != nil {
				t.Errorf("%s breaks its schema: %v", ev.Type, err)
			}
			seen[ev.Type] = append(seen[ev.Type], ev)
		}
		return seen[typ]
	}
}
