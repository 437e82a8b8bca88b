package billingestimator

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC) // a Saturday

// The README's worked examples, computed by the code.
func TestInterpolateWorkedExample(t *testing.T) {
	g := Gap{Interval: 15 * time.Minute, At: t0.Add(45 * time.Minute),
		Before: Read{At: t0.Add(30 * time.Minute), KWh: 18234.512},
		After:  &Read{At: t0.Add(60 * time.Minute), KWh: 18235.412}}
	e, ok := Interpolate(g, nil)
	if !ok || e.RegisterKWh != 18234.962 || e.EnergyKWh != 0.45 || e.Confidence != 0.95 || g.Missing() != 1 {
		t.Fatalf("Interpolate = %+v %v (missing %d), want 18234.962 kWh, 0.45 kWh, 0.95", e, ok, g.Missing())
	}
	// four missing reads: the third of them
	g = Gap{Interval: 15 * time.Minute, At: t0.Add(45 * time.Minute),
		Before: Read{At: t0, KWh: 100}, After: &Read{At: t0.Add(75 * time.Minute), KWh: 102.5}}
	e, _ = Interpolate(g, nil)
	if e.RegisterKWh != 101.5 || e.EnergyKWh != 0.5 || e.Confidence != round3(0.95*math.Pow(0.93, 3)) {
		t.Fatalf("Interpolate = %+v, want 101.5, 0.5, %v", e, round3(0.95*math.Pow(0.93, 3)))
	}
}

func TestProfileScaledFollowsTheShapeAndAddsUp(t *testing.T) {
	var p Profile
	// a week of a meter using 0.2 kW at night (0-6h) and 2 kW otherwise
	for ts := t0.Add(-7 * 24 * time.Hour); ts.Before(t0); ts = ts.Add(15 * time.Minute) {
		kw := 2.0
		if h := ts.UTC().Hour(); h < 6 {
			kw = 0.2
		}
		p.Observe(ts, ts.Add(15*time.Minute), kw/4)
	}
	// a gap from 04:00 to 08:00 (15 reads missing): 2 h at 0.2, 2 h at 2
	start := time.Date(2025, 3, 1, 4, 0, 0, 0, time.UTC)
	after := &Read{At: start.Add(4 * time.Hour), KWh: 104.4}
	var sum float64
	prev := 100.0
	for k := 1; k < 16; k++ {
		g := Gap{Interval: 15 * time.Minute, At: start.Add(time.Duration(k) * 15 * time.Minute), Before: Read{At: start, KWh: 100}, After: after}
		e, ok := ProfileScaled(g, &p)
		if !ok || e.Confidence != 0.85 {
			t.Fatalf("k=%d: %+v %v, want confidence 0.85 (full coverage)", k, e, ok)
		}
		want := 0.05 // 0.2 kW × 0.25 h
		if k > 8 {
			want = 0.5
		}
		if math.Abs(e.EnergyKWh-want) > 0.002 {
			t.Fatalf("k=%d: energy %v, want %v (the profile's shape)", k, e.EnergyKWh, want)
		}
		if math.Abs(e.RegisterKWh-prev-e.EnergyKWh) > 0.002 {
			t.Fatalf("k=%d: register %v after %v does not add the interval's %v", k, e.RegisterKWh, prev, e.EnergyKWh)
		}
		prev = e.RegisterKWh
		sum += e.EnergyKWh
	}
	// the last interval (ending at the read after) completes the difference
	if math.Abs(sum+0.5-4.4) > 0.01 {
		t.Fatalf("energies sum to %v + the last interval 0.5, want the register difference 4.4", sum)
	}
	// silent meter: unscaled, lower confidence
	g := Gap{Interval: 15 * time.Minute, At: start.Add(time.Hour), Before: Read{At: start, KWh: 100}}
	e, ok := ProfileScaled(g, &p)
	if !ok || math.Abs(e.RegisterKWh-100.2) > 0.002 || e.Confidence != 0.6 {
		t.Fatalf("unbracketed = %+v, want 100.2 kWh at 0.6", e)
	}
	// interpolation carries the mean forward when silent
	ei, ok := Interpolate(g, &p)
	mean, _ := p.Mean()
	if !ok || math.Abs(ei.RegisterKWh-(100+mean)) > 0.002 || ei.Confidence != round3(0.5*math.Pow(0.9, 3)) {
		t.Fatalf("unbracketed interpolation = %+v, want 100+%v", ei, mean)
	}
}

func TestEstimatorsDecline(t *testing.T) {
	var empty Profile
	for name, g := range map[string]Gap{
		"register went backwards": {Interval: time.Minute * 15, At: t0.Add(15 * time.Minute), Before: Read{At: t0, KWh: 10}, After: &Read{At: t0.Add(30 * time.Minute), KWh: 9}},
		"after before the read":   {Interval: time.Minute * 15, At: t0.Add(15 * time.Minute), Before: Read{At: t0, KWh: 10}, After: &Read{At: t0.Add(15 * time.Minute), KWh: 11}},
		"before after the read":   {Interval: time.Minute * 15, At: t0, Before: Read{At: t0, KWh: 10}},
		"no interval":             {At: t0.Add(15 * time.Minute), Before: Read{At: t0, KWh: 10}},
		"silent, no history":      {Interval: time.Minute * 15, At: t0.Add(15 * time.Minute), Before: Read{At: t0, KWh: 10}},
	} {
		for m, est := range Estimators {
			if e, ok := est(g, &empty); ok {
				t.Errorf("%s: %s = %+v, want a decline", name, m, e)
			}
		}
	}
}
