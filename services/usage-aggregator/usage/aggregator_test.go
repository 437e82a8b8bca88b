package usage

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// reg is a deterministic register in Wh at minute min: it grows by
// 100 + (min/15)%7 Wh per 15 minutes.
func reg(min int) int64 {
	var wh int64 = 1_000_000
	for m := 15; m <= min; m += 15 {
		wh += 100 + int64(m/15%7)
	}
	return wh
}

func rd(meter string, min int) Read {
	return Read{MeterID: meter, TransformerID: "TX-1", FeederID: "FD-1", ReadAt: at(min),
		Interval: 15 * time.Minute, EnergyKWh: float64(reg(min)) / 1000, DemandKW: float64(min%60) / 10}
}

func collect(a *Aggregator) []Interval {
	var out []Interval
	a.Advance(func(iv Interval) { out = append(out, iv) })
	return out
}

func hourly(ivs []Interval) map[time.Time]Interval {
	m := make(map[time.Time]Interval)
	for _, iv := range ivs {
		if iv.Period == Hour {
			m[iv.Start] = iv
		}
	}
	return m
}

func TestHourlyEnergyExact(t *testing.T) {
	tests := []struct {
		name  string
		order func([]Read) []Read
	}{
		{"in order", func(r []Read) []Read { return r }},
		{"every read twice", func(r []Read) []Read {
			var out []Read
			for _, x := range r {
				out = append(out, x, x)
			}
			return out
		}},
		{"out of order within the lateness", func(r []Read) []Read {
			// Each read moves at most 3 places (45 minutes < 1h lateness).
			rng := rand.New(rand.NewPCG(1, 2))
			keys := make(map[time.Time]int)
			for i, x := range r {
				keys[x.ReadAt] = i + rng.IntN(4)
			}
			out := slices.Clone(r)
			slices.SortStableFunc(out, func(a, b Read) int { return keys[a.ReadAt] - keys[b.ReadAt] })
			return out
		}},
		{"pairs reversed and duplicated", func(r []Read) []Read {
			var out []Read
			for i := 0; i+1 < len(r); i += 2 {
				out = append(out, r[i+1], r[i], r[i+1])
			}
			if len(r)%2 == 1 {
				out = append(out, r[len(r)-1])
			}
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAggregator(AggregatorConfig{Lateness: time.Hour})
			var reads []Read
			for min := 0; min <= 6*60; min += 15 {
				reads = append(reads, rd("m1", min))
			}
			var got []Interval
			for _, r := range tt.order(reads) {
				out, corr, err := a.Observe(r)
				if err != nil {
					t.Fatal(err)
				}
				if out == Corrected || len(corr) > 0 {
					t.Fatalf("read %v: %v %v: no read here is later than the lateness", r.ReadAt, out, corr)
				}
				got = append(got, collect(a)...)
			}
			h := hourly(got)
			// The watermark is at 06:00, so hours ending by 05:00 are closed.
			for hr := 0; hr < 5; hr++ {
				iv, ok := h[at(hr*60)]
				if !ok {
					t.Fatalf("hour %d not published; got %v", hr, h)
				}
				want := reg(hr*60+60) - reg(hr*60)
				if iv.EnergyWh != want || iv.Reads != 4 || iv.ReadsExpected != 4 || iv.Revision != 1 {
					t.Errorf("hour %d: %+v, want %d Wh from 4 reads", hr, iv, want)
				}
			}
			if len(h) != 5 {
				t.Errorf("published %d hours, want 5", len(h))
			}
		})
	}
}

func TestLateReadCorrects(t *testing.T) {
	a := NewAggregator(AggregatorConfig{Lateness: 30 * time.Minute})
	for _, min := range []int{0, 15, 30, 45, 75, 90, 105, 120, 135, 150, 165, 180} { // 60 missing
		if _, _, err := a.Observe(rd("m1", min)); err != nil {
			t.Fatal(err)
		}
	}
	h := hourly(collect(a))
	first, second := h[at(0)], h[at(60)]
	if first.EnergyWh != reg(45)-reg(0) || first.Reads != 3 {
		t.Fatalf("hour 0 without its last read: %+v, want %d Wh", first, reg(45)-reg(0))
	}
	if second.EnergyWh != reg(120)-reg(45) {
		t.Fatalf("hour 1 carries the gap: %+v, want %d Wh", second, reg(120)-reg(45))
	}
	out, corr, err := a.Observe(rd("m1", 60))
	if err != nil || out != Corrected {
		t.Fatalf("late read: %v %v", out, err)
	}
	if len(corr) != 2 {
		t.Fatalf("corrections %+v, want hours 0 and 1", corr)
	}
	for _, c := range corr {
		want := reg(int(c.End.Sub(t0)/time.Minute)) - reg(int(c.Start.Sub(t0)/time.Minute))
		if c.EnergyWh != want || c.Revision != 2 || c.Reads != 4 {
			t.Errorf("correction %+v, want %d Wh, revision 2, 4 reads", c, want)
		}
	}
	// The same late read again changes nothing.
	if out, corr, _ := a.Observe(rd("m1", 60)); out != Duplicate || len(corr) != 0 {
		t.Errorf("duplicate late read: %v %v", out, corr)
	}
}

func TestRejectedReads(t *testing.T) {
	a := NewAggregator(AggregatorConfig{Lateness: time.Hour, Horizon: 3 * time.Hour, MaxClockSkew: time.Hour})
	steps := []struct {
		r    Read
		want Outcome
	}{
		{rd("m1", 0), Accepted},
		{rd("m1", 15), Accepted},
		{rd("m1", 15), Duplicate},
		{func() Read { r := rd("m1", 15); r.EnergyKWh += 1; return r }(), Conflict},
		{func() Read { r := rd("m1", 30); r.EnergyKWh = 1; return r }(), Regression},
		{rd("m1", 24*60), Implausible},
		{rd("m1", 240), Accepted}, // within the skew of the 15-minute read? no: 3h45 ahead
	}
	// The last step is a jump beyond MaxClockSkew: implausible as well.
	steps[len(steps)-1].want = Implausible
	for i, s := range steps {
		out, _, err := a.Observe(s.r)
		if err != nil || out != s.want {
			t.Errorf("step %d (%v): %v %v, want %v", i, s.r.ReadAt, out, err, s.want)
		}
	}
	for min := 30; min <= 300; min += 15 {
		a.Observe(rd("m1", min))
	}
	if out, _, _ := a.Observe(rd("m2", 60)); out != TooLate {
		t.Errorf("read 4 hours behind a 3h horizon: %v, want too_late", out)
	}
	if _, _, err := a.Observe(Read{MeterID: "m1", ReadAt: at(0)}); err == nil {
		t.Error("a read without interval was accepted")
	}
}

func TestDaily(t *testing.T) {
	a := NewAggregator(AggregatorConfig{Lateness: time.Hour})
	var days []Interval
	for min := 0; min <= 26*60; min += 15 {
		a.Observe(rd("m1", min))
		for _, iv := range collect(a) {
			if iv.Period == Day {
				days = append(days, iv)
			}
		}
	}
	if len(days) != 1 {
		t.Fatalf("days %+v, want one", days)
	}
	d := days[0]
	if !d.Start.Equal(t0) || !d.End.Equal(t0.Add(24*time.Hour)) || d.EnergyWh != reg(24*60)-reg(0) || d.Reads != 96 || d.ReadsExpected != 96 {
		t.Errorf("day %+v, want %d Wh from 96 reads", d, reg(24*60)-reg(0))
	}
}

// TestManyMetersShuffled checks the invariant the end-to-end test relies
// on: with duplicates and out-of-order delivery within the lateness, every
// published hour equals the generated register difference.
func TestManyMetersShuffled(t *testing.T) {
	a := NewAggregator(AggregatorConfig{Lateness: time.Hour})
	rng := rand.New(rand.NewPCG(7, 7))
	var got []Interval
	for min := 0; min <= 8*60; min += 15 {
		var batch []Read
		for m := range 50 {
			r := rd(fmt.Sprintf("m%02d", m), min)
			batch = append(batch, r)
			if rng.IntN(5) == 0 {
				batch = append(batch, r)
			}
		}
		rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		for _, r := range batch {
			if _, corr, err := a.Observe(r); err != nil || len(corr) > 0 {
				t.Fatal(err, corr)
			}
		}
		got = append(got, collect(a)...)
	}
	n := 0
	for _, iv := range got {
		if iv.Period != Hour {
			continue
		}
		n++
		s, e := int(iv.Start.Sub(t0)/time.Minute), int(iv.End.Sub(t0)/time.Minute)
		if iv.EnergyWh != reg(e)-reg(s) {
			t.Errorf("%s %v: %d Wh, want %d", iv.MeterID, iv.Start, iv.EnergyWh, reg(e)-reg(s))
		}
	}
	if n != 50*7 { // hours 00-01 .. 06-07: the watermark is at 08:00
		t.Errorf("published %d hours, want %d", n, 50*7)
	}
}

// Issue #12: lag may make a period late, never different. Meter b lives on
// partition 1, whose reader stalls with records pending while partition 0
// runs ten hours ahead: b's hours wait for it, and close with the same
// figures, first revision, as without the stall.
func TestAStalledPartitionHoldsThePeriods(t *testing.T) {
	rec := func(s int) time.Time { return time.Date(2026, 12, 6, 9, 0, s, 0, time.UTC) }
	on := func(r Read, part int, behind int64, s int) Read {
		r.Partition, r.Behind, r.RecordTime = part, behind, rec(s)
		return r
	}
	play := func(stall bool) map[string]Interval {
		a := NewAggregator(AggregatorConfig{Lateness: time.Hour, MaxClockSkew: 2 * time.Hour, IdleAfter: 10 * time.Second})
		out := map[string]Interval{}
		keep := func() {
			for _, iv := range collect(a) {
				out[fmt.Sprintf("%s %s %s", iv.MeterID, iv.Period, iv.Start.Format(time.RFC3339))] = iv
			}
		}
		var backlog []Read
		for i, min := 0, 0; min <= 600; i, min = i+1, min+15 {
			if _, _, err := a.Observe(on(rd("a", min), 0, 0, i)); err != nil {
				t.Fatal(err)
			}
			r := rd("b", min)
			switch {
			case !stall:
				a.Observe(on(r, 1, 0, i))
			case min == 0:
				a.Observe(on(r, 1, 40, i)) // fetched with the next 40 behind it
			default:
				backlog = append(backlog, r)
			}
			keep()
		}
		if stall {
			for k := range out {
				if k[0] == 'b' {
					t.Errorf("%s closed while partition 1 had records to read", k)
				}
			}
			for i, r := range backlog {
				a.Observe(on(r, 1, int64(len(backlog)-i-1), 100))
				keep()
			}
		}
		return out
	}
	want, got := play(false), play(true)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%d periods after the stall, %d without", len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; g.EnergyWh != w.EnergyWh || g.Reads != w.Reads || g.Revision != w.Revision {
			t.Errorf("%s: %+v after the stall, %+v without", k, g, w)
		}
	}
}

// Issue #12 item 5: a restart mid-stream must publish what an uninterrupted
// run does. An aggregator restored from MarshalBinary continues exactly.
func TestStateSurvivesARestart(t *testing.T) {
	run := func(restartAt int) []Interval {
		a := NewAggregator(AggregatorConfig{})
		var out []Interval
		for min := 0; min <= 26*60; min += 15 {
			if min == restartAt {
				data, err := a.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				a = NewAggregator(AggregatorConfig{})
				if err := a.UnmarshalBinary(data); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range []string{"a", "b"} {
				if m == "b" && min == 300 {
					continue // b's 05:00 read comes late, after its hour closed
				}
				_, corr, err := a.Observe(rd(m, min))
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, corr...)
			}
			if min == 8*60 {
				_, corr, _ := a.Observe(rd("b", 300))
				out = append(out, corr...)
			}
			out = append(out, collect(a)...)
		}
		// Meters close in map order: compare the publications as a set.
		slices.SortFunc(out, func(x, y Interval) int {
			return cmp.Or(cmp.Compare(x.MeterID, y.MeterID), cmp.Compare(x.Period, y.Period), x.Start.Compare(y.Start), cmp.Compare(x.Revision, y.Revision))
		})
		return out
	}
	want := run(-1)
	if len(want) == 0 {
		t.Fatal("nothing published")
	}
	for _, restartAt := range []int{45, 6 * 60, 7*60 + 30, 24 * 60} {
		got := run(restartAt)
		if len(got) != len(want) {
			t.Errorf("restarted at minute %d: %d intervals, want the %d of an uninterrupted run", restartAt, len(got), len(want))
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("restarted at minute %d: interval %d is %+v, want %+v", restartAt, i, got[i], want[i])
				break
			}
		}
	}
}
