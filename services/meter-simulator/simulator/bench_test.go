package simulator

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
)

// BenchmarkGenerate measures the generator alone: readings per second for a
// 10,000-meter fleet, one interval per iteration, with the default faults of
// a demo (1% duplicates, 1% out of order).
func BenchmarkGenerate(b *testing.B) {
	f := testFleet(b, 10_000)
	m := testModel(b, f, Scenario{Faults: []Fault{{Kind: FaultDuplicate, Rate: 0.01}, {Kind: FaultOutOfOrder, Rate: 0.01}}})
	g := NewGenerator(m)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, up := range g.Interval() {
			n += len(up.Items)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkGenerateAndEncode adds the JSON encoding of every reading.
func BenchmarkGenerateAndEncode(b *testing.B) {
	f := testFleet(b, 10_000)
	g := NewGenerator(testModel(b, f, Scenario{}))
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, up := range g.Interval() {
			for _, it := range up.Items {
				buf = it.AppendValue(buf[:0])
				n++
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
}

func BenchmarkHourlyUsage(b *testing.B) {
	f := testFleet(b, 1000)
	m := testModel(b, f, Scenario{})
	for b.Loop() {
		if _, err := m.HourlyUsage(t0, t0.Add(24*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimulatorPublish runs the service at max rate (--max-rate)
// against the embedded broker, 10,000 meters: readings acknowledged by the
// broker per second, through the whole service path (timer, generation,
// encoding, batches in flight, the rapids producer). Size the run with
// -benchtime=Nx (N readings, rounded up to whole intervals).
func BenchmarkSimulatorPublish(b *testing.B) {
	const meters = 10_000
	broker, err := embedded.Start(b.Context(), embedded.Options{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	kcfg := rapids.DefaultConfig()
	kcfg.Brokers = []string{broker.Addr()}
	kcfg.Logger = slog.New(slog.DiscardHandler)
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-bench", HTTPAddr: "off", Kafka: kcfg},
		rivers.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Fleet.Meters = meters
	cfg.Rate = RateMax
	cfg.Start = t0
	intervals := max(1, (b.N+meters-1)/meters)
	cfg.End = t0.Add(time.Duration(intervals) * cfg.Interval)
	sim, err := New(svc, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	want := uint64(intervals * meters)
	b.ResetTimer()
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	var first uint64
	var t1 time.Time
	for sim.Published() < want {
		select {
		case <-poll.C:
		case err := <-done:
			b.Fatalf("service stopped: %v", err)
		}
		if first == 0 {
			if first = sim.Published(); first > 0 {
				t1 = time.Now() // from the first acknowledged batch: the service's start is not the simulator's
			}
		}
	}
	elapsed := time.Since(t1)
	b.StopTimer()
	b.ReportMetric(float64(sim.Published()-first)/elapsed.Seconds(), "readings/s")
}
