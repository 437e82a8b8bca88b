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

// A reader that stalls between fetches: its last batch ended at the
// partition's end as of that fetch, so Behind says nothing of the records
// appended since. The end checks do, and hold the read-through time back
// (the case of a heartbeat monitor that declared a live service down).
func TestProgressUnreadFromEndChecks(t *testing.T) {
	wall := func(s float64) time.Time { return rec(0).Add(time.Duration(s * float64(time.Second))) }
	p := NewProgress(2*time.Second, 5*time.Second)
	p.Observe(0, rec(10), 0, wall(10))
	p.Observe(1, rec(11), 0, wall(11))
	p.SetUnread(0, 0, wall(11))
	if !p.ReadThrough().Equal(rec(11)) || !p.CaughtUp(wall(11)) {
		t.Fatalf("read through %v, want %v: both partitions read to their end", p.ReadThrough(), rec(11))
	}
	// Partition 0 gets two records the reader has not fetched; partition 1
	// goes on being read.
	p.SetUnread(0, 2, wall(12))
	p.Observe(1, rec(16), 0, wall(16))
	if !p.ReadThrough().Equal(rec(10)) {
		t.Errorf("read through %v, want %v (partition 0 holds it)", p.ReadThrough(), rec(10))
	}
	if !p.Position().Equal(rec(16)) {
		t.Errorf("position %v, want %v: Position is Behind's view only", p.Position(), rec(16))
	}
	if p.Lagging(wall(13.9)) || !p.Lagging(wall(14.1)) || p.CaughtUp(wall(16)) {
		t.Error("unread records for longer than the tolerance are not lag")
	}
	if p.Records() != 2 {
		t.Errorf("records %d, want 2", p.Records())
	}
	// Fetched and done: the next check clears it; caught up after settling.
	p.Observe(0, rec(17), 0, wall(17))
	p.SetUnread(0, 0, wall(17))
	if !p.ReadThrough().Equal(rec(17)) {
		t.Errorf("read through %v, want %v", p.ReadThrough(), rec(17))
	}
	if p.CaughtUp(wall(18)) || !p.CaughtUp(wall(23)) {
		t.Error("not caught up again after the settle time")
	}
	p.SetUnread(7, 3, wall(20)) // a partition never seen: nothing to hold
	if !p.ReadThrough().Equal(rec(17)) {
		t.Error("an unseen partition held the read-through time")
	}
}
