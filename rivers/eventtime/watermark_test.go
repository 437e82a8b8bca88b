package eventtime

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// ev is event time: minute m of the grid day.
func ev(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// rec is record time (the broker's clock): second s of the run.
func rec(s int) time.Time { return time.Date(2026, 12, 6, 9, 0, s, 0, time.UTC) }

func wantValue(t *testing.T, w *Watermark, want time.Time) {
	t.Helper()
	if got := w.Value(); !got.Equal(want) {
		t.Errorf("value %v, want %v", got, want)
	}
}

func TestValueIsTheSlowestPartition(t *testing.T) {
	w := New(Config{MaxClockSkew: 2 * time.Hour})
	if !w.Value().IsZero() || !w.ClosedThrough(time.Minute).IsZero() {
		t.Fatal("an empty watermark has a value")
	}
	w.Observe(0, ev(0), 0, rec(0))
	w.Observe(1, ev(0), 0, rec(0))
	for m := 15; m <= 90; m += 15 {
		w.Observe(0, ev(m), 5, rec(1))
	}
	wantValue(t, w, ev(0))
	if !w.Max().Equal(ev(90)) {
		t.Errorf("max %v, want %v", w.Max(), ev(90))
	}
	w.Observe(1, ev(60), 3, rec(1))
	wantValue(t, w, ev(60))
	if got := w.ClosedThrough(30 * time.Minute); !got.Equal(ev(30)) {
		t.Errorf("closed through %v, want %v", got, ev(30))
	}
}

// The bug the package fixes: a partition whose reader stalls with records
// pending was taken for idle once it was MaxClockSkew (event time) behind,
// and its meters were declared missed while their reads sat unread.
func TestAStalledPartitionHoldsTheWatermark(t *testing.T) {
	w := New(Config{MaxClockSkew: 2 * time.Hour, IdleAfter: 10 * time.Second})
	w.Observe(0, ev(0), 0, rec(0))
	w.Observe(1, ev(0), 40, rec(0)) // 40 records of partition 1 still to read
	// Partition 0 runs a day ahead, read for minutes of record time.
	for m, s := 15, 1; m <= 24*60; m, s = m+15, s+1 {
		w.Observe(0, ev(m), 0, rec(s))
	}
	wantValue(t, w, ev(0))
	if w.CaughtUp() {
		t.Error("caught up with partition 1 behind")
	}
	// Partition 1 is read to its end, its records in the order they were
	// published: the watermark follows it, never past.
	for m := 60; m < 600; m += 60 {
		w.Observe(1, ev(m), 1, rec(200))
	}
	w.Observe(1, ev(600), 0, rec(200))
	wantValue(t, w, ev(600))
	if !w.CaughtUp() {
		t.Error("not caught up with every partition read to its end")
	}
}

func TestACaughtUpPartitionGoesIdle(t *testing.T) {
	w := New(Config{IdleAfter: 10 * time.Second})
	w.Observe(0, ev(0), 0, rec(0))
	w.Observe(1, ev(0), 0, rec(0))
	w.Observe(0, ev(15), 0, rec(9))
	wantValue(t, w, ev(0))
	// Ten seconds of records read from partition 0 since partition 1's last:
	// nothing came on 1.
	w.Observe(0, ev(30), 0, rec(10))
	wantValue(t, w, ev(30))
	st := w.Partitions()
	if len(st) != 2 || !st[1].Idle || st[0].Idle {
		t.Errorf("partitions %+v, want 1 idle", st)
	}
	// It speaks again, late: the watermark does not go back.
	w.Observe(1, ev(20), 0, rec(11))
	wantValue(t, w, ev(30))
	w.Observe(0, ev(45), 0, rec(12))
	wantValue(t, w, ev(30))
	w.Observe(1, ev(45), 0, rec(12))
	wantValue(t, w, ev(45))
}

// A reader that stalls as a whole (a paused process) reads nothing: no
// record time moves and no partition becomes idle, however long the pause.
// When it resumes, the backlog it reads carries the old record times.
func TestAPausedReaderMakesNoPartitionIdle(t *testing.T) {
	w := New(Config{IdleAfter: 10 * time.Second})
	w.Observe(0, ev(0), 0, rec(0))
	w.Observe(1, ev(0), 0, rec(0))
	// Resumed a minute later: partition 0's backlog comes first.
	for s := 1; s <= 5; s++ {
		w.Observe(0, ev(15*s), 100, rec(s))
	}
	wantValue(t, w, ev(0))
}

func TestNeverIdle(t *testing.T) {
	w := New(Config{IdleAfter: -1})
	w.Observe(0, ev(0), 0, rec(0))
	w.Observe(1, ev(60), 0, rec(3600))
	wantValue(t, w, ev(0))
	w2 := New(Config{})
	w2.Observe(0, ev(0), 0, time.Time{})
	w2.Observe(1, ev(60), 0, time.Time{})
	wantValue(t, w2, ev(0)) // no record times: idleness cannot be told
}

func TestClockSkew(t *testing.T) {
	w := New(Config{MaxClockSkew: time.Hour, SkewConfirm: 3})
	w.Observe(0, ev(0), 0, rec(0))
	if w.Observe(0, ev(24*60), 0, rec(0)) {
		t.Error("a read a day ahead is plausible")
	}
	if !w.Observe(0, ev(15), 0, rec(0)) || !w.Max().Equal(ev(15)) {
		t.Errorf("max %v, want %v", w.Max(), ev(15))
	}
	if w.Plausible(ev(24*60)) || !w.Plausible(ev(30)) || w.Plausible(time.Time{}) {
		t.Error("Plausible disagrees with the guard")
	}
	// The whole stream jumps: the third read in a row confirms it.
	for i, m := range []int{24*60 + 30, 24 * 60, 24*60 + 15} {
		if got := w.Observe(0, ev(m), 0, rec(0)); got != (i == 2) {
			t.Errorf("read %d of the jump plausible %v", i, got)
		}
	}
	if !w.Max().Equal(ev(24 * 60)) {
		t.Errorf("max %v after the jump, want %v (the earliest)", w.Max(), ev(24*60))
	}
	if New(Config{}).Observe(0, time.Time{}, 0, rec(0)) {
		t.Error("a zero time is plausible")
	}
}

func TestCheckpoint(t *testing.T) {
	cfg := Config{MaxClockSkew: 2 * time.Hour, IdleAfter: 10 * time.Second}
	w := New(cfg)
	w.Observe(0, ev(90), 0, rec(0))
	w.Observe(2, ev(60), 0, rec(0))
	wantValue(t, w, ev(60))
	data, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := New(cfg)
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !r.Max().Equal(ev(90)) || r.CaughtUp() {
		t.Errorf("restored max %v caught up %v, want %v false", r.Max(), r.CaughtUp(), ev(90))
	}
	wantValue(t, r, ev(60))
	// After the restart partition 0 is read; partition 2 is not (yet): it
	// holds the watermark until 10 s of record time were read without it.
	r.Observe(0, ev(120), 0, rec(100))
	wantValue(t, r, ev(60))
	r.Observe(0, ev(135), 0, rec(109))
	wantValue(t, r, ev(60))
	r.Observe(0, ev(150), 0, rec(110))
	wantValue(t, r, ev(150))
	again, _ := r.MarshalBinary()
	if rest, err := New(cfg).DecodeFrom(append(again, 7)); err != nil || len(rest) != 1 {
		t.Errorf("DecodeFrom: rest %v, %v", rest, err)
	}
	for _, bad := range [][]byte{nil, {9}, data[:len(data)-1]} {
		if err := New(cfg).UnmarshalBinary(bad); !errors.Is(err, ErrBadState) {
			t.Errorf("UnmarshalBinary(%v) = %v, want ErrBadState", bad, err)
		}
	}
}

// A partition whose last record was fetched at its end, but whose reader
// stalled since with records pending (AtEnd false), is not idle however
// long the others go on: its fetch-time evidence is stale.
func TestAStalledReaderIsNotIdleUntilItIsAtItsEnd(t *testing.T) {
	atEnd := map[int]bool{0: true, 1: false}
	w := New(Config{IdleAfter: 10 * time.Second, AtEnd: func(p int) bool { return atEnd[p] }})
	w.Observe(0, ev(0), 0, rec(0))
	w.Observe(1, ev(0), 0, rec(0))
	for s := 1; s <= 30; s++ {
		w.Observe(0, ev(15*s), 0, rec(s))
	}
	wantValue(t, w, ev(0))
	if st := w.Partitions(); st[1].Idle {
		t.Fatalf("partitions %+v: partition 1 is idle while its reader has records to read", st)
	}
	atEnd[1] = true // read to its end after all: nothing came
	wantValue(t, w, ev(15*30))
}

// A consumer catching up reads one partition hours ahead of another: the
// guard judges each partition against itself and refuses none of them,
// while a jump within a partition is still a wrong clock.
func TestClockSkewIsPerPartition(t *testing.T) {
	w := New(Config{MaxClockSkew: 2 * time.Hour, SkewConfirm: 100})
	for m := 0; m <= 10*60; m += 15 { // partition 0 read 10 h ahead first
		if !w.Observe(0, ev(m), 1, rec(0)) {
			t.Fatalf("partition 0 at %d min refused", m)
		}
	}
	for m := 0; m <= 10*60; m += 15 { // then partition 1 from the start
		if !w.Observe(1, ev(m), 1, rec(0)) {
			t.Fatalf("partition 1 at %d min refused while the reader catches up", m)
		}
	}
	if w.Observe(1, ev(10*60+3*60), 0, rec(0)) {
		t.Error("a read 3 h ahead of its own partition is plausible")
	}
	wantValue(t, w, ev(10*60))
}

func TestAssignedPartitions(t *testing.T) {
	assigned := []int{0, 1, 2}
	atEnd := map[int]bool{}
	w := New(Config{IdleAfter: 10 * time.Second,
		Assigned: func() ([]int, bool) { return assigned, true },
		AtEnd:    func(p int) bool { return atEnd[p] }})
	w.Observe(0, ev(0), 0, rec(0))
	w.Observe(1, ev(30), 0, rec(0))
	// Partition 2 is assigned and not read yet: nothing closes.
	if v := w.Value(); !v.IsZero() {
		t.Fatalf("value %v with partition 2 unread, want zero", v)
	}
	// Ten seconds of record time read from others while it has records to
	// read: it still holds.
	w.Observe(1, ev(45), 1, rec(10))
	if v := w.Value(); !v.IsZero() {
		t.Fatalf("value %v with partition 2 unread but not at its end, want zero", v)
	}
	// At its end (empty): the others decide.
	atEnd[2] = true
	wantValue(t, w, ev(0))
	// A rebalance gives partition 3 (with records to read) and takes
	// partition 0 away: 3 holds the watermark where it is, 0 no longer does.
	assigned = []int{1, 2, 3}
	w.Observe(1, ev(60), 1, rec(11))
	wantValue(t, w, ev(0))
	atEnd[3] = true
	wantValue(t, w, ev(60))
	// Partition 3 speaks: it holds the watermark at its own time.
	w.Observe(3, ev(50), 1, rec(22))
	w.Observe(1, ev(75), 1, rec(22))
	wantValue(t, w, ev(60))

	// Without AtEnd, an unread partition is idle after IdleAfter of record
	// time read from others since it was found unread.
	w3 := New(Config{IdleAfter: 10 * time.Second, Assigned: func() ([]int, bool) { return []int{0, 1}, true }})
	w3.Observe(0, ev(15), 0, rec(0))
	if v := w3.Value(); !v.IsZero() {
		t.Fatalf("value %v with partition 1 unread, want zero", v)
	}
	w3.Observe(0, ev(30), 0, rec(10))
	wantValue(t, w3, ev(30))

	// Still joining its group (known, nothing assigned): a watermark
	// restored from a checkpoint does not move on the partitions it knew.
	var none []int
	w4 := New(Config{Assigned: func() ([]int, bool) { return none, true }})
	w4.Observe(0, ev(15), 0, rec(0))
	if v := w4.Value(); !v.IsZero() {
		t.Fatalf("value %v with nothing assigned, want zero", v)
	}
	none = []int{0}
	wantValue(t, w4, ev(15))

	// Without the knowledge (a transport that cannot tell), partitions read
	// from decide, as before.
	w2 := New(Config{Assigned: func() ([]int, bool) { return nil, false }})
	w2.Observe(0, ev(15), 0, rec(0))
	wantValue(t, w2, ev(15))
}

// A restored watermark keeps its configuration: a partition assigned and
// not read yet still holds it, and AtEnd still decides idleness.
func TestRestoreKeepsAssignedAndAtEnd(t *testing.T) {
	cfg := Config{IdleAfter: 10 * time.Second,
		Assigned: func() ([]int, bool) { return []int{0, 1}, true },
		AtEnd:    func(int) bool { return false }}
	w := New(cfg)
	w.Observe(0, ev(60), 0, rec(0))
	data, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := New(cfg)
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	r.Observe(0, ev(120), 0, rec(30))
	if v := r.Value(); !v.IsZero() {
		t.Fatalf("restored value %v with partition 1 assigned and unread, want zero", v)
	}
}

// After a restart the reader may go through one partition's backlog long
// before another's: a restored, assigned partition with records still to
// read holds the watermark however much record time the other yields (the
// proof's restart run saw a feeder window close without one transformer's
// meters under load). Read to its end, it goes idle as any partition does.
func TestARestoredPartitionWithABacklogHolds(t *testing.T) {
	atEnd := map[int]bool{0: true, 1: false}
	cfg := Config{IdleAfter: 10 * time.Second,
		Assigned: func() ([]int, bool) { return []int{0, 1}, true },
		AtEnd:    func(p int) bool { return atEnd[p] }}
	w := New(cfg)
	w.Observe(0, ev(60), 0, rec(0))
	w.Observe(1, ev(60), 0, rec(0))
	data, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := New(cfg)
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for s := 1; s <= 5; s++ { // 50s of record time from partition 0 alone
		r.Observe(0, ev(60+15*s), 0, rec(10*s))
	}
	if v := r.Value(); !v.Equal(ev(60)) {
		t.Fatalf("value %v with restored partition 1 not read to its end, want %v", v, ev(60))
	}
	atEnd[1] = true // nothing left to read in it
	if v := r.Value(); !v.Equal(ev(135)) {
		t.Fatalf("value %v once partition 1 is at its end, want %v", v, ev(135))
	}
}

// Forget lets a partition rebuilt from its history hold the watermark at
// its own position, even behind the value computed without it.
func TestForgetLetsARebuiltPartitionHoldTheWatermark(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	assigned := []int{0}
	w := New(Config{Assigned: func() ([]int, bool) { return assigned, true }, IdleAfter: -1})
	w.Observe(0, t0.Add(3*time.Hour), 0, t0)
	if got := w.Value(); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("value %v, want 03:00", got)
	}
	// Partition 1 is assigned and its history replayed up to 01:00.
	assigned = []int{0, 1}
	w.Forget(1)
	w.Observe(1, t0.Add(time.Hour), 0, t0)
	if got := w.Value(); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("value %v after partition 1 was rebuilt to 01:00, want 01:00", got)
	}
	// Partition 1 moves away again: its state goes.
	assigned = []int{0}
	w.Forget(1)
	if got := w.Value(); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("value %v after partition 1 left, want 03:00", got)
	}
	if ps := w.Partitions(); len(ps) != 1 || ps[0].Partition != 0 {
		t.Errorf("partitions %+v, want only 0", ps)
	}
}
