package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
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
// Topics are unique to the test.
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

// TestIntegrationSimulatorOnBroker runs the service at max rate for one grid
// hour with malformed records and checks what lands on the rapids.
func TestIntegrationSimulatorOnBroker(t *testing.T) {
	kcfg := kafkaConfig(t)
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", Kafka: kcfg})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Fleet.Meters = 100
	cfg.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(time.Hour)
	cfg.Rate = RateMax
	cfg.Faults = []Fault{{Kind: FaultMalformed, Rate: 0.05}}
	sim, err := New(svc, cfg)
	if err != nil {
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
	if err := rapids.EnsureTopics(ctx, kcfg); err != nil {
		t.Fatal(err)
	}
	cons, err := rapids.NewConsumer(kcfg, "test-reader", []string{kcfg.Topics.Rapids})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	good, bad := 0, 0
	for good < 400 || uint64(bad) < sim.Stats().Malformed || bad == 0 {
		rec, err := cons.Fetch(ctx)
		if err != nil {
			t.Fatalf("after %d good and %d malformed records: %v (stats %+v)", good, bad, err, sim.Stats())
		}
		e, err := contracts.DecodeBinary(rec.Message())
		if err != nil {
			bad++
			continue
		}
		if e.Type != events.TypeMeterReading || string(rec.Key) != e.PartitionKey {
			t.Fatalf("record %s key %q", e.Type, rec.Key)
		}
		good++
	}
	if good != 400 {
		t.Fatalf("%d readings, want 400", good)
	}
}

func TestRunner(t *testing.T) {
	f := testFleet(t, 300)
	m := testModel(t, f, Scenario{Faults: []Fault{{Kind: FaultDuplicate, Rate: 0.1}}})
	cfg := DefaultConfig()
	cfg.Rate = RateMax
	cfg.End = t0.Add(3 * time.Hour)
	cfg.BatchSize = 100
	r := NewRunner(NewGenerator(m), cfg, "rapids")
	var mu sync.Mutex
	last := map[string]time.Time{}
	n := 0
	err := r.Run(t.Context(), func(_ context.Context, recs ...rivers.Record) error {
		mu.Lock()
		defer mu.Unlock()
		for _, rec := range recs {
			e, err := contracts.DecodeBinary(rec.Message())
			if err != nil {
				return err
			}
			at, _ := contracts.HeaderValue(rec.Headers, contracts.HeaderTime)
			due, _ := time.Parse(time.RFC3339Nano, string(at))
			// Keyed by transformer; the order that matters is one meter's.
			var rd struct {
				MeterID string `json:"meter_id"`
			}
			if err := json.Unmarshal(e.Data, &rd); err != nil {
				return err
			}
			if due.Before(last[rd.MeterID]) {
				return fmt.Errorf("%s: out of order", rd.MeterID)
			}
			last[rd.MeterID] = due
			n++
		}
		return nil
	})
	if !errors.Is(err, ErrEnded) {
		t.Fatal(err)
	}
	st := r.Generator().Stats()
	if uint64(n) != st.Readings+st.Duplicates || r.Published() != uint64(n) || n < 300*12 {
		t.Fatalf("%d published, stats %+v", n, st)
	}
	if !r.GridNow().After(t0.Add(2*time.Hour + 45*time.Minute)) {
		t.Errorf("grid now %s", r.GridNow())
	}
	boom := errors.New("broker on fire")
	r2 := NewRunner(NewGenerator(m), cfg, "rapids")
	if err := r2.Run(t.Context(), func(context.Context, ...rivers.Record) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("publish error: %v", err)
	}
}

// BenchmarkRunner measures generation + encoding into records, with a
// publisher that discards them: the simulator's own ceiling.
func BenchmarkRunner(b *testing.B) {
	f := testFleet(b, 10_000)
	m := testModel(b, f, Scenario{})
	cfg := DefaultConfig()
	cfg.Rate = RateMax
	b.ReportAllocs()
	for b.Loop() {
		cfg.End = t0.Add(6 * time.Hour)
		r := NewRunner(NewGenerator(m), cfg, "rapids")
		if err := r.Run(context.Background(), func(context.Context, ...rivers.Record) error { return nil }); !errors.Is(err, ErrEnded) {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Published())/b.Elapsed().Seconds(), "records/s")
	}
}
