package gapdetector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// step is one action of a scenario: a read (meter, minute) or an advance.
type step struct {
	meter   string
	min     int
	advance bool
}

func rd(meter string, min int) step { return step{meter: meter, min: min} }
func adv() step                     { return step{advance: true} }

// series is a meter's reads every 15 minutes from minute from to to.
func series(meter string, from, to int) []step {
	var s []step
	for m := from; m <= to; m += 15 {
		s = append(s, rd(meter, m))
	}
	return s
}

func cat(parts ...[]step) []step { return slices.Concat(parts...) }

func read(meter string, min int) Read {
	return Read{MeterID: meter, TransformerID: "T-" + meter[:1], FeederID: "F-1", ReadAt: at(min), Interval: 15 * time.Minute}
}

// run plays steps on a tracker without warm-up and returns what it emitted
// as "missed m @min", "late m @min", "resumed m since min n", "dup m @min".
func run(t *testing.T, cfg TrackerConfig, steps []step) []string {
	t.Helper()
	tr := NewTracker(cfg)
	var out []string
	for _, s := range steps {
		if s.advance {
			tr.Advance(func(m Missed) {
				out = append(out, fmt.Sprintf("missed %s @%d #%d", m.MeterID, int(m.ExpectedAt.Sub(t0)/time.Minute), m.Consecutive))
			})
			continue
		}
		obs, err := tr.Observe(read(s.meter, s.min))
		if err != nil {
			t.Fatal(err)
		}
		if obs.Late != nil {
			out = append(out, fmt.Sprintf("late %s @%d", obs.Late.MeterID, int(obs.Late.ReadAt.Sub(t0)/time.Minute)))
		}
		if obs.Resumed != nil {
			out = append(out, fmt.Sprintf("resumed %s since %d n=%d", obs.Resumed.MeterID, int(obs.Resumed.SilentSince.Sub(t0)/time.Minute), obs.Resumed.Missed))
		}
		if obs.Outcome == Duplicate || obs.Outcome == TooOld || obs.Outcome == Implausible {
			out = append(out, fmt.Sprintf("%s %s @%d", obs.Outcome, s.meter, s.min))
		}
	}
	return out
}

func TestTracker(t *testing.T) {
	cfg := TrackerConfig{Grace: 30 * time.Minute, MaxConsecutive: 3}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{
			name:  "steady meters miss nothing",
			steps: []step{rd("a", 0), rd("b", 0), adv(), rd("a", 15), rd("b", 15), rd("a", 30), rd("b", 30), rd("a", 45), rd("b", 45), adv()},
			want:  nil,
		},
		{
			name: "a silent meter is missed once per interval after the grace period",
			steps: []step{rd("a", 0), rd("b", 0), rd("b", 15), rd("b", 30), adv(),
				rd("b", 45), adv(), adv(), rd("b", 60), adv()},
			want: []string{"missed a @15 #1", "missed a @30 #2"},
		},
		{
			name:  "missed reads stop at MaxConsecutive",
			steps: cat([]step{rd("a", 0)}, series("b", 0, 240), []step{adv(), adv()}, series("b", 255, 480), []step{adv()}),
			want:  []string{"missed a @15 #1", "missed a @30 #2", "missed a @45 #3"},
		},
		{
			name:  "a late read closes its gap and the meter resumes",
			steps: cat([]step{rd("a", 0)}, series("b", 0, 75), []step{adv(), rd("a", 15), rd("a", 60), rd("a", 45)}),
			want:  []string{"missed a @15 #1", "missed a @30 #2", "missed a @45 #3", "late a @15", "resumed a since 30 n=2", "late a @45"},
		},
		{
			name:  "the first fresh read after silence resumes the meter",
			steps: cat([]step{rd("a", 0)}, series("b", 0, 75), []step{adv(), rd("a", 90), rd("a", 30), rd("a", 30)}),
			want:  []string{"missed a @15 #1", "missed a @30 #2", "missed a @45 #3", "resumed a since 15 n=3", "late a @30", "duplicate a @30"},
		},
		{
			name:  "an out-of-order read within the grace period is not missed",
			steps: []step{rd("a", 0), rd("a", 30), rd("a", 45), rd("a", 15), adv(), rd("a", 75), rd("a", 60), rd("a", 90), adv()},
			want:  nil,
		},
		{
			name:  "an isolated gap between two reads is missed once",
			steps: []step{rd("a", 0), rd("a", 30), rd("a", 45), rd("a", 90), adv(), adv()},
			want:  []string{"missed a @15 #1", "missed a @60 #1"},
		},
		{
			name:  "a gap of two slots between reads counts them in a row",
			steps: []step{rd("a", 0), rd("a", 45), rd("a", 60), rd("a", 75), adv()},
			want:  []string{"missed a @15 #1", "missed a @30 #2"},
		},
		{
			name:  "duplicates are ignored",
			steps: []step{rd("a", 0), rd("a", 0), rd("a", 15), rd("a", 15), rd("a", 0), adv()},
			want:  []string{"duplicate a @0", "duplicate a @15", "duplicate a @0"},
		},
		{
			name:  "one meter with its clock a day ahead does not move the watermark",
			steps: []step{rd("a", 0), rd("b", 0), rd("c", 24*60), rd("a", 15), rd("b", 15), adv()},
			want:  []string{"implausible c @1440"},
		},
		{
			name:  "a read older than the remembered window is too old",
			steps: cat(series("a", 0, 15*70), []step{rd("a", 15), rd("a", 15*6)}),
			want:  []string{"too_old a @15", "too_old a @90"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, cfg, tt.steps)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestMissedCarriesTheLastRead(t *testing.T) {
	tr := NewTracker(TrackerConfig{Grace: 30 * time.Minute})
	r := read("a", 0)
	r.EnergyKWh = 1234.567
	tr.Observe(r)
	for _, min := range []int{0, 15, 30, 45} {
		tr.Observe(read("b", min))
	}
	var got []Missed
	tr.Advance(func(m Missed) { got = append(got, m) })
	if len(got) != 1 {
		t.Fatalf("missed %d, want 1 (a @15)", len(got))
	}
	m := got[0]
	if !m.LastReadAt.Equal(at(0)) || m.LastEnergyKWh == nil || *m.LastEnergyKWh != 1234.567 {
		t.Errorf("last read %v %v, want %v 1234.567", m.LastReadAt, m.LastEnergyKWh, at(0))
	}
	if !m.DetectedAt.Equal(at(45)) || m.TransformerID != "T-a" || m.FeederID != "F-1" || m.Interval != 15*time.Minute {
		t.Errorf("missed %+v", m)
	}
	late := read("a", 15)
	late.EnergyKWh = 1235
	obs, _ := tr.Observe(late)
	if obs.Late == nil || !obs.Late.ReceivedAt.Equal(at(45)) || !obs.Late.MissedDetectedAt.Equal(at(45)) || obs.Late.EnergyKWh != 1235 {
		t.Errorf("late %+v", obs.Late)
	}
}

func TestTrackerStreamJump(t *testing.T) {
	tr := NewTracker(TrackerConfig{Grace: 30 * time.Minute, MaxClockSkew: time.Hour, SkewConfirm: 3})
	for _, m := range []string{"a", "b", "c"} {
		if _, err := tr.Observe(read(m, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range []string{"a", "b", "c"} {
		obs, _ := tr.Observe(read(m, 24*60))
		want := Implausible
		if i == 2 {
			want = Fresh
		}
		if obs.Outcome != want {
			t.Errorf("read %d of the jump: %v, want %v", i, obs.Outcome, want)
		}
	}
	if got := tr.Watermark(); !got.Equal(at(24 * 60)) {
		t.Errorf("watermark %v, want %v", got, at(24*60))
	}
}

func TestTrackerWarmUp(t *testing.T) {
	cfg := TrackerConfig{Grace: 30 * time.Minute, MaxConsecutive: 96, WarmUp: time.Hour}
	tr := NewTracker(cfg)
	for _, m := range []string{"a", "b"} {
		tr.Observe(read(m, 0))
	}
	// a goes silent; b reports for three hours.
	var missed []time.Time
	for min := 15; min <= 180; min += 15 {
		tr.Observe(read("b", min))
		tr.Advance(func(m Missed) { missed = append(missed, m.ExpectedAt) })
	}
	// The first read came at minute 0: slots before minute 60 are suppressed.
	if len(missed) == 0 || missed[0] != at(60) {
		t.Fatalf("first missed %v, want %v (warm-up until the first read + 1h)", missed, at(60))
	}
	if tr.Suppressed != 3 {
		t.Errorf("suppressed %d, want 3 (15, 30, 45)", tr.Suppressed)
	}
}

func TestObserveInvalid(t *testing.T) {
	tr := NewTracker(TrackerConfig{})
	for _, r := range []Read{
		{ReadAt: t0, Interval: time.Minute},
		{MeterID: "a", Interval: time.Minute},
		{MeterID: "a", ReadAt: t0},
		{MeterID: "a", ReadAt: t0, Interval: 25 * time.Hour},
	} {
		if _, err := tr.Observe(r); !errors.Is(err, ErrInvalidRead) {
			t.Errorf("Observe(%+v) = %v, want ErrInvalidRead", r, err)
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	cfg := TrackerConfig{Grace: 30 * time.Minute, MaxConsecutive: 96, WarmUp: time.Hour}
	tr := NewTracker(cfg)
	for _, m := range []string{"a", "b", "c"} {
		tr.Observe(read(m, 0))
	}
	for min := 15; min <= 120; min += 15 {
		tr.Observe(read("b", min))
		tr.Observe(read("c", min))
	}
	tr.Advance(func(Missed) {})
	data, err := tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored := NewTracker(cfg)
	if err := restored.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if restored.Meters() != 3 || !restored.Watermark().Equal(tr.Watermark()) {
		t.Fatalf("restored %d meters at %v, want 3 at %v", restored.Meters(), restored.Watermark(), tr.Watermark())
	}
	again, _ := restored.MarshalBinary()
	if string(again) != string(data) {
		t.Error("a restored tracker does not encode to the same checkpoint")
	}
	// After the restart the consumer resumes 45 minutes later (the reads in
	// between were committed before the crash): no false misses for b and c.
	var missed []string
	for min := 180; min <= 300; min += 15 {
		restored.Observe(read("b", min))
		restored.Observe(read("c", min))
		restored.Advance(func(m Missed) {
			missed = append(missed, fmt.Sprintf("%s@%d", m.MeterID, int(m.ExpectedAt.Sub(t0)/time.Minute)))
		})
	}
	for _, m := range missed {
		if m[0] != 'a' {
			t.Errorf("false miss after restart: %s", m)
		}
	}
	if len(missed) == 0 {
		t.Error("meter a stayed silent after the warm-up but was not missed")
	}
	if err := restored.UnmarshalBinary(data[:len(data)-3]); !errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("truncated checkpoint: %v, want ErrBadCheckpoint", err)
	}
}

func TestInternTable(t *testing.T) {
	it := newInternTable()
	for i := range 5000 {
		id := fmt.Sprintf("MTR-%07d", i)
		idx, added := it.intern(id)
		if !added || idx != uint32(i) {
			t.Fatalf("intern(%s) = %d, %v", id, idx, added)
		}
	}
	for i := range 5000 {
		id := fmt.Sprintf("MTR-%07d", i)
		idx, ok := it.lookup(id)
		if !ok || idx != uint32(i) || it.id(idx) != id {
			t.Fatalf("lookup(%s) = %d, %v", id, idx, ok)
		}
	}
	if _, ok := it.lookup("nope"); ok {
		t.Error("lookup of an unknown id succeeded")
	}
}

// recAt is a record time (the broker's clock): second s of the run.
func recAt(s int) time.Time { return time.Date(2026, 12, 6, 9, 0, s, 0, time.UTC) }

// partitioned plays reads on partitions with their read progress.
type partitioned struct {
	t      *testing.T
	tr     *Tracker
	missed []string
}

func newPartitioned(t *testing.T) *partitioned {
	return &partitioned{t: t, tr: NewTracker(TrackerConfig{Grace: 30 * time.Minute, MaxClockSkew: 2 * time.Hour, IdleAfter: 10 * time.Second})}
}

// obs reads meter m's read at min from partition part, fetched with behind
// records after it, stamped recSec by the broker.
func (p *partitioned) obs(m string, part, min int, behind int64, recSec int) {
	p.t.Helper()
	r := read(m, min)
	r.Partition, r.Behind, r.RecordTime = part, behind, recAt(recSec)
	if _, err := p.tr.Observe(r); err != nil {
		p.t.Fatal(err)
	}
}

func (p *partitioned) advance() {
	p.tr.Advance(func(m Missed) {
		p.missed = append(p.missed, fmt.Sprintf("%s@%d", m.MeterID, int(m.ExpectedAt.Sub(t0)/time.Minute)))
	})
}

func TestWatermarkIsTheSlowestPartition(t *testing.T) {
	p := newPartitioned(t)
	p.obs("a", 0, 0, 0, 0)
	p.obs("b", 1, 0, 0, 0)
	// Partition 0 is consumed an hour and a half ahead of partition 1.
	for min := 15; min <= 90; min += 15 {
		p.obs("a", 0, min, 6, 1)
	}
	p.advance()
	if len(p.missed) != 0 {
		t.Fatalf("missed %v while partition 1 is behind", p.missed)
	}
	for min := 15; min <= 90; min += 15 {
		p.obs("b", 1, min, 0, 2)
	}
	p.advance()
	if len(p.missed) != 0 {
		t.Fatalf("missed %v after partition 1 caught up", p.missed)
	}
	// Partition 1 was read to its end and its meter falls silent: once the
	// detector has read ten seconds of newer records from partition 0, it
	// is idle, no longer holds the watermark back, and b is missed.
	for i, min := 0, 105; min <= 300; i, min = i+1, min+15 {
		p.obs("a", 0, min, 0, 3+i)
	}
	p.advance()
	if len(p.missed) == 0 || p.missed[0] != "b@105" {
		t.Errorf("missed %v, want b from 105", p.missed)
	}
}

// Issue #12: a partition whose reader stalls with records pending was taken
// for idle once it was MaxClockSkew behind in event time, and its meters
// were declared missed while their reads waited to be read. Lag may make a
// missed read late; it must never make one up.
func TestAStalledPartitionIsNeverIdle(t *testing.T) {
	p := newPartitioned(t)
	p.obs("a", 0, 0, 0, 0)
	p.obs("b", 1, 0, 500, 0) // partition 1: 500 records still to read
	// Partition 0 runs ten hours ahead, read over minutes of record time.
	for i, min := 0, 15; min <= 600; i, min = i+1, min+15 {
		p.obs("a", 0, min, 0, 1+i)
		p.advance()
	}
	if len(p.missed) != 0 {
		t.Fatalf("missed %v while partition 1 had records to read", p.missed)
	}
	if !p.tr.LowWatermark().Equal(at(0)) || p.tr.CaughtUp() {
		t.Errorf("low watermark %v caught up %v, want %v false", p.tr.LowWatermark(), p.tr.CaughtUp(), at(0))
	}
	// The backlog is read: b reported all along.
	for min := 15; min <= 600; min += 15 {
		p.obs("b", 1, min, int64(600-min)/15, 300)
		p.advance()
	}
	if len(p.missed) != 0 {
		t.Errorf("missed %v once the backlog was read", p.missed)
	}
	if !p.tr.CaughtUp() {
		t.Error("not caught up after reading the backlog")
	}
}

// A restart must not make false missed reads: the checkpoint keeps the
// watermark per partition, and a partition the restarted detector has not
// read again holds it back, with no warm-up to hide behind.
func TestRestartHoldsPartitionsNotReadAgain(t *testing.T) {
	p := newPartitioned(t)
	for i, min := 0, 0; min <= 120; i, min = i+1, min+15 {
		p.obs("a", 0, min, 0, i)
		p.obs("b", 1, min, 0, i)
	}
	p.advance()
	data, err := p.tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := &partitioned{t: t, tr: NewTracker(TrackerConfig{Grace: 30 * time.Minute, MaxClockSkew: 2 * time.Hour, IdleAfter: 10 * time.Second})}
	if err := r.tr.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if r.tr.CaughtUp() || !r.tr.LowWatermark().Equal(at(120)) {
		t.Fatalf("restored: caught up %v, low watermark %v; want false, %v", r.tr.CaughtUp(), r.tr.LowWatermark(), at(120))
	}
	// The restarted consumer reads partition 0's backlog first, five
	// hours of it within seconds of record time.
	for i, min := 0, 135; min <= 420; i, min = i+1, min+15 {
		r.obs("a", 0, min, int64(420-min)/15, 100)
		r.advance()
	}
	if len(r.missed) != 0 {
		t.Fatalf("missed %v before partition 1 was read again", r.missed)
	}
	for min := 135; min <= 420; min += 15 {
		r.obs("b", 1, min, int64(420-min)/15, 101)
		r.advance()
	}
	if len(r.missed) != 0 {
		t.Errorf("missed %v after the restart", r.missed)
	}
	// Restored again: this time partition 1 is never read after the
	// restart (its meters went silent). It holds the watermark until the
	// detector has read 10 s of newer records from partition 0.
	r2 := &partitioned{t: t, tr: NewTracker(TrackerConfig{Grace: 30 * time.Minute, MaxClockSkew: 2 * time.Hour, IdleAfter: 10 * time.Second})}
	if err := r2.tr.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for i, min := 0, 135; min <= 420; i, min = i+1, min+15 {
		r2.obs("a", 0, min, 0, 200+i)
		r2.advance()
		if i < 10 && len(r2.missed) != 0 {
			t.Fatalf("missed %v %d s of record time after the restart", r2.missed, i)
		}
	}
	if len(r2.missed) == 0 || r2.missed[0] != "b@135" {
		t.Errorf("missed %v, want b from 135 once partition 1 proved idle", r2.missed)
	}
}

func TestVersion2CheckpointLoads(t *testing.T) {
	// WSGAP2: the latest read time, then intervals, transformers and
	// meters (none here).
	data := []byte("WSGAP2\n")
	data = binary.AppendUvarint(data, uint64(at(120).Unix()))
	data = binary.AppendUvarint(data, 1)   // one interval
	data = binary.AppendUvarint(data, 900) // 15 minutes
	data = binary.AppendUvarint(data, 0)   // no transformers
	data = binary.AppendUvarint(data, 0)   // no meters
	tr := NewTracker(TrackerConfig{})
	if err := tr.UnmarshalBinary(data); err != nil {
		t.Fatalf("a version 2 checkpoint: %v", err)
	}
	if tr.Meters() != 0 || !tr.Watermark().IsZero() {
		t.Errorf("restored %d meters at %v, want 0 and no watermark (it restarts from the reads)", tr.Meters(), tr.Watermark())
	}
}

// A clean stop inside the first start's warm-up: the restored tracker
// (Resume) keeps that warm-up, so a slot the uninterrupted run kept quiet is
// not declared missed after the restart (the proof's restart run declared
// one).
func TestResumeKeepsTheFirstWarmUp(t *testing.T) {
	cfg := TrackerConfig{Grace: 30 * time.Minute, MaxConsecutive: 96, WarmUp: time.Hour}
	tr := NewTracker(cfg)
	tr.Observe(read("a", 0))
	tr.Observe(read("b", 0))
	for min := 30; min <= 120; min += 15 { // a misses 00:15, inside the warm-up
		tr.Observe(read("a", min))
		tr.Observe(read("b", min))
	}
	data, err := tr.MarshalBinary() // stopped before any Advance judged 00:15
	if err != nil {
		t.Fatal(err)
	}
	restored := NewTracker(cfg)
	if err := restored.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	restored.Resume()
	var missed []string
	for min := 135; min <= 240; min += 15 {
		restored.Observe(read("a", min))
		restored.Observe(read("b", min))
		restored.Advance(func(m Missed) {
			missed = append(missed, fmt.Sprintf("%s@%d", m.MeterID, int(m.ExpectedAt.Sub(t0)/time.Minute)))
		})
	}
	if len(missed) != 0 {
		t.Errorf("declared after the restart: %v, want nothing (00:15 was inside the first warm-up)", missed)
	}
	// The same stop without the first warm-up's record (a checkpoint of the
	// previous format) would have declared it: the test can fail.
	old := NewTracker(cfg)
	if err := old.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	old.saved.warm, old.saved.suppressBefore = warmActive, 0
	old.Resume()
	old.Observe(read("a", 135))
	var oldMissed []string
	old.Advance(func(m Missed) {
		oldMissed = append(oldMissed, fmt.Sprintf("%s@%d", m.MeterID, int(m.ExpectedAt.Sub(t0)/time.Minute)))
	})
	if !slices.Contains(oldMissed, "a@15") {
		t.Errorf("without the saved warm-up: declared %v, want a@15 among them", oldMissed)
	}
}

// A partition dropped (moved to another instance) is neither judged nor
// held; replayed again, its meters are judged as if never dropped, with
// the warm-up of the partition's own first read.
func TestTrackerDropPartition(t *testing.T) {
	tr := NewTracker(TrackerConfig{WarmUp: 30 * time.Minute, PartitionWarmUp: true, IdleAfter: -1})
	obs := func(meter string, p, min int) {
		r := read(meter, min)
		r.Partition = p
		if _, err := tr.Observe(r); err != nil {
			t.Fatal(err)
		}
	}
	missed := func() []string {
		var out []string
		tr.Advance(func(m Missed) {
			out = append(out, fmt.Sprintf("%s@%d", m.MeterID, int(m.ExpectedAt.Sub(t0)/time.Minute)))
		})
		return out
	}
	// b (partition 1) starts an hour after a (partition 0): its own
	// warm-up keeps its first 30 minutes quiet (b@75).
	for m := 0; m <= 180; m += 15 {
		obs("a", 0, m)
	}
	obs("b", 1, 60)
	obs("b", 1, 180)
	want := []string{"b@90", "b@105", "b@120", "b@135", "b@150"}
	if got := missed(); !slices.Equal(got, want) {
		t.Fatalf("missed %v, want %v", got, want)
	}
	tr.DropPartition(1)
	if tr.Meters() != 1 {
		t.Errorf("meters %d after the drop, want 1", tr.Meters())
	}
	for m := 195; m <= 300; m += 15 {
		obs("a", 0, m)
	}
	if got := missed(); len(got) != 0 {
		t.Errorf("missed %v with partition 1 dropped, want nothing of b", got)
	}
	// Partition 1 comes back: its history is replayed, then b reports on.
	obs("b", 1, 60)
	obs("b", 1, 180)
	obs("b", 1, 300)
	got := missed()
	want = []string{"b@90", "b@105", "b@120", "b@135", "b@150", "b@165", "b@195", "b@210", "b@225", "b@240", "b@255", "b@270"}
	if !slices.Equal(got, want) {
		t.Errorf("after the replay: missed %v, want %v (the declarations of the first owner again, and the new ones)", got, want)
	}
}
