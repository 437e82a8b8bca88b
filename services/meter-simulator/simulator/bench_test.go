package simulator

import (
	"testing"
	"time"
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
