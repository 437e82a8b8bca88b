package billingestimator

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/services/meter-simulator/simulator"
)

// TestAccuracyAgainstSimulator measures both methods against the
// simulator's ground truth: a fleet's true registers every 15 minutes for
// four weeks; each meter's profile learnt from the first three; gaps of
// 1, 2, 3, 4, 16 and 96 missing reads injected in the fourth at fixed places,
// estimated bracketed (the read after the gap known) and silent (not
// yet). It is deterministic (seeded fleet, fixed gap places) and writes
// its table to the log (and to $BILLING_ACCURACY_OUT when set), the table
// of BENCHMARKS.md. It checks what must hold whatever the numbers: the
// stream is the model's truth, bracketed estimates lie between the reads
// around the gap and add up to the register difference across it, and
// every method answers every gap.
func TestAccuracyAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates four weeks of a fleet: skipped with -short")
	}
	const (
		meters      = 100
		weeks       = 4
		gapsPerSize = 6
	)
	start := time.Date(2030, 1, 7, 0, 0, 0, 0, time.UTC) // a Monday
	fleet, err := simulator.NewFleet(simulator.FleetConfig{Seed: 7, Meters: meters, MetersPerTransformer: 10, TransformersPerFeeder: 5, TransformersPerCollector: 2})
	if err != nil {
		t.Fatal(err)
	}
	model, err := simulator.NewModel(fleet, simulator.Scenario{Start: start, Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	n := weeks * 7 * 96
	// series[i][k]: meter i's true register (Wh) at start + k intervals
	series := make([][]int64, meters)
	index := map[string]int{}
	for i, m := range fleet.Meters() {
		index[m.ID] = i
		series[i] = make([]int64, n+1)
		series[i][0] = m.InitialRegisterWh
	}
	g := simulator.NewGenerator(model)
	for up := range g.Uploads(start.Add(time.Duration(n) * interval)) {
		k := int(up.ReadAt.Sub(start) / interval)
		for _, it := range up.Items {
			if it.Kind == simulator.ItemReading && k >= 1 && k <= n {
				series[index[it.Reading.MeterID]][k] = it.Reading.RegisterWh
			}
		}
	}
	// the stream is the model's truth
	for _, i := range []int{0, meters / 2, meters - 1} {
		id := fleet.Meter(i).ID
		for _, k := range []int{1, n / 2, n} {
			want, err := model.RegisterWh(id, start.Add(time.Duration(k)*interval))
			if err != nil || series[i][k] != want {
				t.Fatalf("meter %s at %d: stream %d, model %d %v", id, k, series[i][k], want, err)
			}
		}
	}
	at := func(k int) time.Time { return start.Add(time.Duration(k) * interval) }
	kwh := func(i, k int) float64 { return float64(series[i][k]) / 1000 }

	train := 3 * 7 * 96
	profiles := make([]Profile, meters)
	for i := range profiles {
		for k := 1; k <= train; k++ {
			profiles[i].Observe(at(k-1), at(k), kwh(i, k)-kwh(i, k-1))
		}
	}

	type acc struct {
		regAbs, eAbs, eTrue, conf float64
		n                         int
	}
	type key struct {
		method    string
		size      int
		bracketed bool
	}
	results := map[key]*acc{}
	add := func(k key, e Estimate, trueReg, trueE float64) {
		a := results[k]
		if a == nil {
			a = &acc{}
			results[k] = a
		}
		a.regAbs += math.Abs(e.RegisterKWh - trueReg)
		a.eAbs += math.Abs(e.EnergyKWh - trueE)
		a.eTrue += trueE
		a.conf += e.Confidence
		a.n++
	}
	sizes := []int{1, 2, 3, 4, 16, 96}
	week := 7 * 96
	for i := range meters {
		for _, L := range sizes {
			for j := range gapsPerSize {
				s := train + (i*7919+j*1543+L*31)%(week-L-2) // gap after read s, reads s+1..s+L missing
				for _, bracketed := range []bool{true, false} {
					sums := map[string]float64{}
					for k := 1; k <= L; k++ {
						gp := Gap{Interval: interval, At: at(s + k), Before: Read{At: at(s), KWh: kwh(i, s)}}
						if bracketed {
							gp.After = &Read{At: at(s + L + 1), KWh: kwh(i, s+L+1)}
						}
						trueReg, trueE := kwh(i, s+k), kwh(i, s+k)-kwh(i, s+k-1)
						var best *Estimate
						ests := map[string]Estimate{}
						for _, m := range []string{MethodInterpolation, MethodProfile} {
							e, ok := Estimators[m](gp, &profiles[i])
							if !ok {
								t.Fatalf("%s declined meter %d gap %d+%d", m, i, s, L)
							}
							ests[m] = e
							add(key{m, L, bracketed}, e, trueReg, trueE)
							sums[m] += e.EnergyKWh
							if best == nil || e.Confidence > best.Confidence {
								best = &e
							}
						}
						add(key{"best by confidence", L, bracketed}, *best, trueReg, trueE)
						for m, e := range ests {
							if bracketed && (e.RegisterKWh < gp.Before.KWh-0.0005 || e.RegisterKWh > gp.After.KWh+0.0005) {
								t.Fatalf("%s: meter %d gap %d+%d read %d: register %v outside the reads around the gap [%v, %v]", m, i, s, L, k, e.RegisterKWh, gp.Before.KWh, gp.After.KWh)
							}
						}
					}
					if bracketed {
						// the last interval, ending at the read after the gap
						for _, m := range []string{MethodInterpolation, MethodProfile} {
							gp := Gap{Interval: interval, At: at(s + L), Before: Read{At: at(s), KWh: kwh(i, s)}, After: &Read{At: at(s + L + 1), KWh: kwh(i, s+L+1)}}
							e, _ := Estimators[m](gp, &profiles[i])
							if total := sums[m] + (kwh(i, s+L+1) - e.RegisterKWh); math.Abs(total-(kwh(i, s+L+1)-kwh(i, s))) > 0.001*float64(L+2) {
								t.Fatalf("%s: meter %d gap %d+%d: energies add to %v, want the register difference %v", m, i, s, L, total, kwh(i, s+L+1)-kwh(i, s))
							}
						}
					}
				}
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%d meters (simulator seed 7), 15-minute reads, profiles from 3 weeks, %d gaps per size per meter in week 4\n\n", meters, gapsPerSize)
	b.WriteString("| gap (missing reads) | read after gap | method | register MAE (kWh) | interval MAE (kWh) | interval error / energy | mean confidence | estimates |\n|---|---|---|---|---|---|---|---|\n")
	for _, bracketed := range []bool{true, false} {
		for _, L := range sizes {
			for _, m := range []string{MethodInterpolation, MethodProfile, "best by confidence"} {
				a := results[key{m, L, bracketed}]
				side := "known"
				if !bracketed {
					side = "not yet"
				}
				fmt.Fprintf(&b, "| %d | %s | %s | %.4f | %.4f | %.1f %% | %.2f | %d |\n", L, side, m,
					a.regAbs/float64(a.n), a.eAbs/float64(a.n), 100*a.eAbs/a.eTrue, a.conf/float64(a.n), a.n)
			}
		}
	}
	t.Log("\n" + b.String())
	if out := os.Getenv("BILLING_ACCURACY_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, L := range sizes {
		for _, m := range []string{MethodInterpolation, MethodProfile} {
			if a := results[key{m, L, true}]; a == nil || a.n != meters*gapsPerSize*L || math.IsNaN(a.regAbs) {
				t.Fatalf("%s %d: %+v estimates, want %d", m, L, a, meters*gapsPerSize*L)
			}
		}
	}
}
