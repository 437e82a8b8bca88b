package validator

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
)

// kafkaConfig returns a broker for an integration test: real Kafka when
// WATERSHED_TEST_KAFKA is set, else the embedded broker on a free port.
// Topics are unique to the test, so runs never see each other's records.
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

func TestIntegrationValidatorOnBroker(t *testing.T) {
	kcfg := kafkaConfig(t)
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", Kafka: kcfg, HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(svc, Config{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with %v", err)
		}
	})

	prod, err := rapids.NewProducer(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	at := time.Now().UTC().Truncate(15 * time.Minute)
	bad := reading("MTR-X", at, 10)
	bad.DemandKW = 4000 // impossible: rejected
	var recs []rapids.Record
	for _, r := range []events.MeterReading{reading("MTR-X", at.Add(-15*time.Minute), 9.7), bad} {
		e, err := contracts.New("/services/test", events.TypeMeterReading, r)
		if err != nil {
			t.Fatal(err)
		}
		e.PartitionKey = r.MeterID
		rec, err := rapids.NewRecord(kcfg.Topics.Rapids, e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if err := rapids.EnsureTopics(ctx, kcfg); err != nil {
		t.Fatal(err)
	}
	if err := prod.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	cons, err := rapids.NewConsumer(kcfg, "test-reader", []string{kcfg.Topics.Rivers})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for {
		rec, err := cons.Fetch(ctx)
		if err != nil {
			t.Fatalf("no rejected event: %v", err)
		}
		e, err := contracts.DecodeBinary(rec.Message())
		if err != nil || e.Type != events.TypeMeterReadingRejected {
			continue
		}
		var r events.MeterReadingRejected
		if err := json.Unmarshal(e.Data, &r); err != nil {
			t.Fatal(err)
		}
		if r.Rule != RuleDemandOutOfRange || r.MeterID != "MTR-X" || string(rec.Key) != "MTR-X" {
			t.Fatalf("rejected %+v key %q", r, rec.Key)
		}
		return
	}
}
