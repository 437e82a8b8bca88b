package gapdetector

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkTrackerMemory measures the heap the tracker holds per meter
// with 1,000,000 meters tracked (goal ≤ 100 bytes/meter). Meter ids look
// like the simulator's ("MTR-0000001"), 20 meters per transformer.
func BenchmarkTrackerMemory(b *testing.B) {
	const meters = 1_000_000
	ids := make([]string, meters)
	trafos := make([]string, meters/20)
	for i := range ids {
		ids[i] = fmt.Sprintf("MTR-%07d", i)
	}
	for i := range trafos {
		trafos[i] = fmt.Sprintf("TX-%05d", i)
	}
	var perMeter float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tr := NewTracker(TrackerConfig{})
		for i, id := range ids {
			if _, err := tr.Observe(Read{MeterID: id, TransformerID: trafos[i/20], FeederID: "FD-001",
				ReadAt: t0, Interval: 15 * time.Minute, EnergyKWh: 1000}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perMeter = float64(after.HeapAlloc-before.HeapAlloc) / meters
		runtime.KeepAlive(tr)
	}
	b.ReportMetric(perMeter, "bytes/meter")
}

// BenchmarkObserve measures one read on a tracker of 100,000 meters.
func BenchmarkObserve(b *testing.B) {
	const meters = 100_000
	reads := make([]Read, meters)
	for i := range reads {
		reads[i] = Read{MeterID: fmt.Sprintf("MTR-%07d", i), TransformerID: fmt.Sprintf("TX-%05d", i/20),
			FeederID: "FD-001", ReadAt: t0, Interval: 15 * time.Minute, EnergyKWh: 1000}
	}
	tr := NewTracker(TrackerConfig{})
	i := 0
	for b.Loop() {
		r := reads[i%meters]
		r.ReadAt = t0.Add(time.Duration(i/meters) * 15 * time.Minute)
		if _, err := tr.Observe(r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAdvance measures one watermark advance over 100,000 meters of
// which every 20th is silent.
func BenchmarkAdvance(b *testing.B) {
	const meters = 100_000
	tr := NewTracker(TrackerConfig{MaxConsecutive: 30000})
	for i := range meters {
		tr.Observe(Read{MeterID: fmt.Sprintf("MTR-%07d", i), TransformerID: "TX", FeederID: "FD",
			ReadAt: t0, Interval: 15 * time.Minute})
	}
	step := 0
	for b.Loop() {
		step++
		for i := 0; i < meters; i += 20 {
			tr.Observe(Read{MeterID: fmt.Sprintf("MTR-%07d", i+1), TransformerID: "TX", FeederID: "FD",
				ReadAt: t0.Add(time.Duration(step) * 15 * time.Minute), Interval: 15 * time.Minute})
		}
		tr.Advance(func(Missed) {})
	}
}
