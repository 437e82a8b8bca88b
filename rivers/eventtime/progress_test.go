package eventtime

import (
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	wall := func(s float64) time.Time { return rec(0).Add(time.Duration(s * float64(time.Second))) }
	p := NewProgress(2*time.Second, 5*time.Second)
	if p.Started() || p.CaughtUp(wall(0)) || !p.Position().IsZero() {
		t.Fatal("an empty progress is caught up or has a position")
	}
	// Live: batches of records, behind each other for an instant.
	p.Observe(0, rec(0), 2, wall(0))
	p.Observe(0, rec(0), 1, wall(0.001))
	if !p.CaughtUp(wall(0.5)) || p.Lagging(wall(0.5)) {
		t.Error("a batch being read is lag")
	}
	p.Observe(0, rec(0), 0, wall(0.002))
	p.Observe(1, rec(1), 0, wall(1))
	if !p.CaughtUp(wall(60)) || !p.Position().Equal(rec(1)) {
		t.Errorf("caught up %v position %v, want true %v: quiet partitions are not behind", p.CaughtUp(wall(60)), p.Position(), rec(1))
	}

	// A burst of old records: partition 1 has 300 more behind, for longer
	// than the tolerance.
	p.Observe(1, rec(2), 300, wall(100))
	if p.Lagging(wall(102)) || !p.Lagging(wall(102.5)) || p.CaughtUp(wall(102.5)) {
		t.Error("lagging not told after the tolerance")
	}
	if p.Records() != 300 || !p.Position().Equal(rec(2)) {
		t.Errorf("records %d position %v, want 300 %v (the partition behind)", p.Records(), p.Position(), rec(2))
	}
	p.Observe(1, rec(40), 100, wall(110))
	if !p.Position().Equal(rec(40)) {
		t.Errorf("position %v, want %v", p.Position(), rec(40))
	}
	// Read to its end: caught up again after the settle time.
	p.Observe(1, rec(120), 0, wall(120))
	if p.Lagging(wall(120)) || p.CaughtUp(wall(124)) {
		t.Error("caught up before the settle time")
	}
	if !p.CaughtUp(wall(125)) || !p.Position().Equal(rec(120)) {
		t.Errorf("caught up %v position %v after the settle time", p.CaughtUp(wall(125)), p.Position())
	}
}
