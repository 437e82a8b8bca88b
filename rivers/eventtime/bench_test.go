package eventtime

import (
	"testing"
	"time"
)

// BenchmarkObserve is the per-event cost of a watermark over 12 partitions.
func BenchmarkObserve(b *testing.B) {
	w := New(Config{MaxClockSkew: 2 * time.Hour})
	t, r := ev(0), rec(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Observe(i%12, t.Add(time.Duration(i)*time.Second), 0, r.Add(time.Duration(i)*time.Millisecond))
	}
}

// BenchmarkValue is the cost of the low watermark over 12 partitions.
func BenchmarkValue(b *testing.B) {
	w := New(Config{})
	for p := range 12 {
		w.Observe(p, ev(p), 0, rec(p))
	}
	b.ReportAllocs()
	for b.Loop() {
		w.Value()
	}
}

// BenchmarkProgressObserve is a monitor's per-record cost.
func BenchmarkProgressObserve(b *testing.B) {
	p := NewProgress(0, 0)
	r := rec(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Observe(i%3, r.Add(time.Duration(i)*time.Millisecond), int64(i%5), r)
	}
}
