package billingestimator

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// step is one input of the restart scenario; a step named "" is not a
// place to stop at.
type step struct {
	name string
	do   func(k *riverstest.Kit)
}

var (
	gapA   = day0.Add(10 * time.Hour)                            // estimated, trued up two days later
	gapB   = time.Date(2030, 1, 31, 12, 0, 0, 0, time.UTC)       // estimated, trued up after its month is billed
	feb1   = time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)         // January is complete
	silent = day0.Add(6 * time.Hour)                             // MTR-2's last read
	lateA  = day0.Add(36 * time.Hour)                            // when gapA's actual read comes
	lateB  = feb1.Add(time.Hour)                                 // when gapB's actual read comes
	midJan = time.Date(2030, 1, 15, 12, 0, 0, 0, time.UTC)       // a stop with an open billing day
	_      = []time.Time{gapA, gapB, feb1, silent, lateA, lateB} // all used below
)

// restartScenario is a month of one meter's reads with two gaps estimated
// and trued up late (the second after its month is billed), and a meter
// that goes silent and is estimated after the hold. The named steps are
// where a run may be stopped: a need open, slots held, a billing day open,
// a month billed before its correction.
func restartScenario() []step {
	var steps []step
	decide := func(k *riverstest.Kit) { k.Settle(); k.Advance(5 * time.Second); k.Settle() }
	read := func(meter string, at time.Time) step {
		return step{do: func(k *riverstest.Kit) { sendReading(k, meter, at) }}
	}
	// MTR-3: a missed read held, then asked by the read after it; stopped
	// with the need open, the replayed read must not ask (nothing it asks
	// is published), the catch-up does
	gapM3 := day0.Add(3 * time.Hour)
	for at := gapM3.Add(-time.Hour); at.Before(gapM3); at = at.Add(interval) {
		steps = append(steps, read("MTR-3", at))
	}
	steps = append(steps, step{do: func(k *riverstest.Kit) { sendMissed(k, "MTR-3", gapM3, gapM3.Add(-interval), 1) }},
		read("MTR-3", gapM3.Add(interval)), step{do: func(k *riverstest.Kit) { k.Settle() }},
		step{name: "a need open, asked by the read after the gap"}, step{do: decide})
	for at := day0; !at.After(silent); at = at.Add(interval) {
		steps = append(steps, read("MTR-2", at))
	}
	for n := 1; n <= 8; n++ {
		at := silent.Add(time.Duration(n) * interval)
		steps = append(steps, step{do: func(k *riverstest.Kit) { sendMissed(k, "MTR-2", at, silent, n); decide(k) }})
		if n == 2 {
			steps = append(steps, step{name: "MTR-2 silent, slots held"})
		}
	}
	for at := day0; !at.After(lateB); at = at.Add(interval) {
		switch {
		case at.Equal(gapA), at.Equal(gapB):
			continue
		case at.Equal(gapA.Add(interval)):
			steps = append(steps, read("MTR-1", at),
				step{do: func(k *riverstest.Kit) { sendMissed(k, "MTR-1", gapA, gapA.Add(-interval), 1); k.Settle() }},
				step{name: "a need open"},
				step{do: decide})
			continue
		case at.Equal(gapB.Add(interval)):
			steps = append(steps, read("MTR-1", at),
				step{do: func(k *riverstest.Kit) { sendMissed(k, "MTR-1", gapB, gapB.Add(-interval), 1); decide(k) }})
			continue
		case at.Equal(lateA):
			steps = append(steps, step{name: "gapA estimated, its day billed, the next open"}, read("MTR-1", gapA))
		case at.Equal(midJan):
			steps = append(steps, step{name: "mid-January, a billing day open"})
		case at.Equal(lateB):
			steps = append(steps, step{name: "January billed, gapB not trued up"}, read("MTR-1", gapB))
		}
		steps = append(steps, read("MTR-1", at))
	}
	return steps
}

// runScenario runs the scenario on a bus, stopping the estimator and
// starting a new one (same group) at the steps named in stops, and returns
// everything it published.
func runScenario(t *testing.T, stops ...string) []contracts.Event {
	t.Helper()
	bus, clock := riverstest.NewBus(), riverstest.NewClock(riverstest.Start)
	start := func() *riverstest.Kit {
		return riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 0), riverstest.WithBus(bus), riverstest.WithClock(clock))
	}
	k := start()
	for _, s := range restartScenario() {
		if s.do != nil {
			s.do(k)
			continue
		}
		if !slices.Contains(stops, s.name) {
			continue
		}
		if err := k.Stop(); err != nil {
			t.Fatal(err)
		}
		k = start()
		// the rivers' backlog may end with heartbeats, which the estimator
		// does not read: its catch-up timer resumes it
		for range 3 {
			k.Settle()
			k.Advance(5 * time.Second)
		}
		k.Settle()
	}
	k.Settle()
	return k.Published(events.TypeMeterReadingEstimated, events.TypeMeterReadingAdjusted, events.TypeBillingPeriod)
}

// conclusions is what a run concluded, for comparison: each estimate and
// true-up by id (without the need id, which a re-ask renews), and the
// latest revision of each billing period. It fails t
// if a period's revisions ever go back, or one revision says two things.
func conclusions(t *testing.T, evs []contracts.Event) map[string]string {
	t.Helper()
	out := map[string]string{}
	type seen struct {
		rev  int
		data string
	}
	latest := map[string]seen{}
	for _, e := range evs {
		switch e.Type {
		case events.TypeMeterReadingEstimated:
			var v events.MeterReadingEstimated
			if err := json.Unmarshal(e.Data, &v); err != nil {
				t.Fatal(err)
			}
			v.NeedID = ""
			out["estimated "+e.ID] = fmt.Sprintf("%+v", v)
		case events.TypeMeterReadingAdjusted:
			var v events.MeterReadingAdjusted
			if err := json.Unmarshal(e.Data, &v); err != nil {
				t.Fatal(err)
			}
			v.NeedID = ""
			out["adjusted "+v.MeterID+" "+v.ReadAt.Format(time.RFC3339)] = fmt.Sprintf("%+v", v)
		case events.TypeBillingPeriod:
			var v events.BillingPeriod
			if err := json.Unmarshal(e.Data, &v); err != nil {
				t.Fatal(err)
			}
			key := v.MeterID + " " + v.Period + " " + v.Start.Format(time.RFC3339)
			rev := v.Revision
			v.Revision = 0
			data := fmt.Sprintf("%+v", v)
			if prev, ok := latest[key]; ok && (rev < prev.rev || rev == prev.rev && data != prev.data) {
				t.Errorf("%s: revision %d (%s) published after revision %d (%s)", key, rev, data, prev.rev, prev.data)
			}
			latest[key] = seen{rev, data}
			out["period "+key] = fmt.Sprintf("revision %d: %s", rev, data)
		}
	}
	return out
}

func compareConclusions(t *testing.T, want, got map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("%s:\n got %s\nwant %s", k, got[k], want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s, not published by the undisturbed run", k, got[k])
		}
	}
}

// Issue #15: an estimator stopped and started again at any point of the
// scenario (a need open, slots held, a billing day open, a month billed
// and not yet corrected) concludes what one that never stopped does: the
// same estimates, true-ups, billing days and months, whose revisions never
// go back.
func TestRestartConcludesAsAnUndisturbedRun(t *testing.T) {
	undisturbed := conclusions(t, runScenario(t))
	for _, c := range []struct{ want, n int }{
		{3, len(filterKeys(undisturbed, "estimated "))}, // gapA, gapB, MTR-2's first silent slot(s) at least
	} {
		if c.n < c.want {
			t.Fatalf("the undisturbed run estimated %d reads, want at least %d: %v", c.n, c.want, undisturbed)
		}
	}
	if _, ok := undisturbed["period MTR-1 month "+day0.Add(24*time.Hour).Format(time.RFC3339)]; !ok {
		t.Fatalf("the undisturbed run did not bill January: %v", filterKeys(undisturbed, "period MTR-1 month"))
	}
	var names []string
	for _, s := range restartScenario() {
		if s.name != "" {
			names = append(names, s.name)
		}
	}
	for _, name := range names {
		t.Run("stop at "+name, func(t *testing.T) {
			compareConclusions(t, undisturbed, conclusions(t, runScenario(t, name)))
		})
	}
	t.Run("stop at every point", func(t *testing.T) {
		compareConclusions(t, undisturbed, conclusions(t, runScenario(t, names...)))
	})
}

func filterKeys(m map[string]string, prefix string) []string {
	var out []string
	for k := range m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
