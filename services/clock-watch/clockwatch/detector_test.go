package clockwatch

import (
	"testing"
	"time"
)

func TestDetectorFlagsSkewedSourceOnceAndNotOthers(t *testing.T) {
	d := NewDetector(DetectorConfig{Window: 5, MinSamples: 3, Threshold: 30 * time.Second})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var got []Transition
	// The first 20s (two spans of RateSpan at the wall clock's rate) measure
	// the clocks' rates; judging starts at i = 20.
	for i := 0; i < 30; i++ {
		rec := t0.Add(time.Duration(i) * time.Second)
		// good source: small jitter; skewed source: 2 minutes ahead with one outlier
		if tr, ok := d.Observe("/services/good", rec.Add(time.Duration(i%3)*100*time.Millisecond), rec); ok {
			got = append(got, tr)
		}
		skew := 2 * time.Minute
		if i == 24 {
			skew = 0 // an outlier must not clear the flag
		}
		if tr, ok := d.Observe("/services/skewed", rec.Add(skew), rec); ok {
			got = append(got, tr)
		}
	}
	if len(got) != 1 {
		t.Fatalf("transitions = %+v, want exactly one", got)
	}
	if tr := got[0]; tr.Source != "/services/skewed" || !tr.Skewed || tr.Offset != 2*time.Minute || tr.Samples != 3 || tr.Window != 2*time.Second {
		t.Fatalf("transition = %+v", tr)
	}
}

func TestDetectorHysteresisAndRecovery(t *testing.T) {
	d := NewDetector(DetectorConfig{Window: 3, MinSamples: 3, Threshold: 10 * time.Second, ClearBelow: 4 * time.Second, RateSpan: time.Minute})
	rec := time.Now()
	// One sample a second: the offset steps below stay well inside the
	// wall clock's rate over a minute's span; judging starts after two.
	feed := func(off time.Duration, n int) []Transition {
		var out []Transition
		for i := 0; i < n; i++ {
			rec = rec.Add(time.Second)
			if tr, ok := d.Observe("s", rec.Add(off), rec); ok {
				out = append(out, tr)
			}
		}
		return out
	}
	if tr := feed(-20*time.Second, 123); len(tr) != 1 || !tr[0].Skewed || tr[0].Offset != -20*time.Second {
		t.Fatalf("behind-clock source: %+v", tr)
	}
	if tr := feed(-6*time.Second, 5); len(tr) != 0 {
		t.Fatalf("between ClearBelow and Threshold must not change: %+v", tr)
	}
	if tr := feed(time.Second, 3); len(tr) != 1 || tr[0].Skewed {
		t.Fatalf("recovery: %+v", tr)
	}
	if tr := feed(8*time.Second, 5); len(tr) != 0 {
		t.Fatalf("below threshold flagged: %+v", tr)
	}
	st := d.Sources()
	if len(st) != 1 || st[0].Skewed || st[0].Offset != 8*time.Second {
		t.Fatalf("sources = %+v", st)
	}
}

func TestDetectorBoundsAndForget(t *testing.T) {
	d := NewDetector(DetectorConfig{MaxSources: 2})
	now := time.Now()
	d.Observe("a", now, now.Add(-time.Hour))
	d.Observe("b", now, now)
	d.Observe("c", now, now)
	if n := len(d.Sources()); n != 2 {
		t.Fatalf("tracked %d sources, want 2", n)
	}
	if n := d.Forget(now.Add(-time.Minute)); n != 1 {
		t.Fatalf("forgot %d, want 1", n)
	}
	if _, ok := d.Observe("", now, now); ok {
		t.Fatal("empty source judged")
	}
}

// sample feeds src one event per step of record time over d, its ce_time
// given by at; it returns the transitions.
func sample(det *Detector, src string, start time.Time, d, step time.Duration, at func(rec time.Time) time.Time) []Transition {
	var out []Transition
	for rec := start; rec.Before(start.Add(d)); rec = rec.Add(step) {
		if tr, ok := det.Observe(src, at(rec), rec); ok {
			out = append(out, tr)
		}
	}
	return out
}

// watershed dev's simulator stamps grid time at 600x the wall clock, from a
// grid start hours away from now: that is another clock, not a skewed
// one. A producer two minutes behind the wall clock is still flagged.
func TestDetectorTellsASimulatedClockFromASkewedOne(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		at     func(rec time.Time) time.Time
		flag   bool
		clock  Clock
		rateLo float64
	}{
		"simulated 600x":          {func(rec time.Time) time.Time { return t0.Add(-6*time.Hour + 600*rec.Sub(t0)) }, false, ClockScaled, 590},
		"simulated 600x from now": {func(rec time.Time) time.Time { return t0.Add(600 * rec.Sub(t0)) }, false, ClockScaled, 590},
		"replay of last week":     {func(rec time.Time) time.Time { return t0.Add(-7*24*time.Hour + 3600*rec.Sub(t0)) }, false, ClockScaled, 3500},
		"skewed -2m":              {func(rec time.Time) time.Time { return rec.Add(-2 * time.Minute) }, true, ClockWall, 0.99},
		"skewed +45s, drifting":   {func(rec time.Time) time.Time { return rec.Add(45*time.Second + rec.Sub(t0)/1000) }, true, ClockWall, 0.99},
		"in step":                 {func(rec time.Time) time.Time { return rec.Add(300 * time.Millisecond) }, false, ClockWall, 0.99},
	} {
		t.Run(name, func(t *testing.T) {
			d := NewDetector(DetectorConfig{})
			got := sample(d, "/services/x", t0, 2*time.Minute, 50*time.Millisecond, c.at)
			if c.flag != (len(got) == 1 && got[0].Skewed) || len(got) > 1 {
				t.Fatalf("transitions %+v, want flagged %v", got, c.flag)
			}
			st := d.Sources()
			if len(st) != 1 || st[0].Clock != c.clock || st[0].Rate < c.rateLo {
				t.Fatalf("source state %+v, want clock %s, rate at least %g", st, c.clock, c.rateLo)
			}
		})
	}
}

// A source stepping from a simulated clock to the wall clock (dev stopped,
// a real meter under the same name) is judged on its wall-clock samples
// alone, and one stepping the other way stops being judged.
func TestDetectorClockChangeClearsTheWindow(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := NewDetector(DetectorConfig{Window: 5, MinSamples: 3})
	if tr := sample(d, "s", t0, time.Minute, 100*time.Millisecond, func(rec time.Time) time.Time { return t0.Add(600 * rec.Sub(t0)) }); len(tr) != 0 {
		t.Fatalf("simulated: %+v", tr)
	}
	t1 := t0.Add(time.Minute)
	if tr := sample(d, "s", t1, time.Minute, 100*time.Millisecond, func(rec time.Time) time.Time { return rec.Add(time.Second) }); len(tr) != 0 {
		t.Fatalf("wall clock, in step, after a simulated one: %+v (old offsets judged?)", tr)
	}
	if st := d.Sources(); st[0].Clock != ClockWall || st[0].Offset != time.Second {
		t.Fatalf("after the change: %+v", st)
	}
}

// A simulated clock that stalls while the ecosystem starts and then bursts
// can run at the wall clock's rate for one span by accident (seen in
// watershed dev: three skew reports in its first 20 seconds). It is judged
// only once its rate held for a second span, which a simulated clock's does
// not.
func TestOneWallLikeSpanIsNotEnoughToJudge(t *testing.T) {
	d := NewDetector(DetectorConfig{Window: 3, MinSamples: 3, Threshold: 10 * time.Second, RateSpan: 10 * time.Second})
	rec := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	grid := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) // months behind the wall clock
	var got []Transition
	observe := func() {
		if tr, ok := d.Observe("/services/meter-simulator", grid, rec); ok {
			got = append(got, tr)
		}
	}
	// Start-up: 12 s of record time in which the grid advanced 12 s too.
	for range 13 {
		observe()
		rec, grid = rec.Add(time.Second), grid.Add(time.Second)
	}
	// Then the simulator runs at 600x.
	for range 60 {
		observe()
		rec, grid = rec.Add(time.Second), grid.Add(600*time.Second)
	}
	if len(got) != 0 {
		t.Fatalf("a simulated clock reported skewed: %+v", got)
	}
}
