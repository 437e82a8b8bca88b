package eventtime

import (
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	now := rec(0)
	p := NewProgress(5 * time.Second)
	if p.Started() || p.CaughtUp(now) || !p.Position().IsZero() {
		t.Fatal("an empty progress is caught up or has a position")
	}
	// A burst of old records: partition 1 has 300 more behind.
	p.Observe(0, rec(-60), 0, now)
	p.Observe(1, rec(-50), 300, now)
	if !p.Behind() || p.CaughtUp(now.Add(time.Hour)) || p.Records() != 300 {
		t.Errorf("behind %v caught up %v records %d, want true false 300", p.Behind(), p.CaughtUp(now.Add(time.Hour)), p.Records())
	}
	if got := p.Position(); !got.Equal(rec(-50)) {
		t.Errorf("position %v, want %v (the partition behind)", got, rec(-50))
	}
	p.Observe(1, rec(-1), 0, now.Add(time.Second))
	if p.Behind() || p.CaughtUp(now.Add(5*time.Second)) {
		t.Error("caught up before the settle time")
	}
	if !p.CaughtUp(now.Add(6 * time.Second)) {
		t.Error("not caught up after the settle time")
	}
	if got := p.Position(); !got.Equal(rec(-1)) {
		t.Errorf("position %v, want %v (the newest read)", got, rec(-1))
	}
	// Falling behind again restarts the settle time.
	p.Observe(0, rec(10), 1, now.Add(10*time.Second))
	p.Observe(0, rec(11), 0, now.Add(11*time.Second))
	if p.CaughtUp(now.Add(15*time.Second)) || !p.CaughtUp(now.Add(16*time.Second)) {
		t.Error("the settle time did not restart")
	}
}
