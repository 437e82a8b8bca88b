package clockwatch

import (
	"testing"
	"time"
)

func TestDetectorFlagsSkewedSourceOnceAndNotOthers(t *testing.T) {
	d := NewDetector(DetectorConfig{Window: 5, MinSamples: 3, Threshold: 30 * time.Second})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var got []Transition
	for i := 0; i < 20; i++ {
		rec := t0.Add(time.Duration(i) * time.Second)
		// good source: small jitter; skewed source: 2 minutes ahead with one outlier
		if tr, ok := d.Observe("/services/good", rec.Add(time.Duration(i%3)*100*time.Millisecond), rec); ok {
			got = append(got, tr)
		}
		skew := 2 * time.Minute
		if i == 7 {
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
	d := NewDetector(DetectorConfig{Window: 3, MinSamples: 3, Threshold: 10 * time.Second, ClearBelow: 4 * time.Second})
	t0 := time.Now()
	feed := func(off time.Duration, n int) []Transition {
		var out []Transition
		for i := 0; i < n; i++ {
			if tr, ok := d.Observe("s", t0.Add(off), t0); ok {
				out = append(out, tr)
			}
		}
		return out
	}
	if tr := feed(-20*time.Second, 3); len(tr) != 1 || !tr[0].Skewed || tr[0].Offset != -20*time.Second {
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
