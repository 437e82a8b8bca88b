package loadforecaster

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/services/meter-simulator/simulator"
)

// The backtest: the simulator's model knows every meter's true register, so
// a feeder's true hourly load is known for any span. Each model forecasts
// 24 hours from every hour of the last two weeks of a five-week span, from
// the history before it, and is scored by MAPE (mean absolute percentage
// error over every (feeder, issue, hour ahead)) against the truth.

// backtestResult is one model's score.
type backtestResult struct {
	model  string
	mape   float64 // %
	worst  float64 // % of the worst point
	points int
}

// feederTruth returns each feeder's true mean load (kW) per hour over days
// days from start, as the feeder windows would carry it.
func feederTruth(tb testing.TB, meters, days int, start time.Time) map[string]map[int64]float64 {
	tb.Helper()
	fc := simulator.FleetConfig{Seed: 7, Meters: meters, MetersPerTransformer: 10, TransformersPerFeeder: 20}
	fleet, err := simulator.NewFleet(fc)
	if err != nil {
		tb.Fatal(err)
	}
	model, err := simulator.NewModel(fleet, simulator.Scenario{Start: start, Interval: 15 * time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	feederOf := map[string]string{}
	for _, m := range fleet.Meters() {
		feederOf[m.ID] = m.FeederID
	}
	hu, err := model.HourlyUsage(start, start.AddDate(0, 0, days))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]map[int64]float64{}
	for _, u := range hu {
		f := feederOf[u.MeterID]
		if out[f] == nil {
			out[f] = map[int64]float64{}
		}
		out[f][u.Hour.Unix()] += float64(u.EnergyWh) / 1000 // Wh in an hour → mean kW
	}
	return out
}

func backtest(tb testing.TB, meters int) []backtestResult {
	start := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC) // a Monday
	const days, evalDays = 35, 14
	truth := feederTruth(tb, meters, days, start)
	p := Config{}.withDefaults().profile()
	var res []backtestResult
	for _, m := range Models {
		r := backtestResult{model: m}
		sum := 0.0
		for _, series := range truth {
			from := start.AddDate(0, 0, days-evalDays).Unix()
			for issued := from; issued+Horizon*hour <= start.AddDate(0, 0, days).Unix(); issued += hour {
				known := func(h int64) (float64, bool) {
					if h >= issued {
						return 0, false // the future is not in the history
					}
					v, ok := series[h]
					return v, ok
				}
				pts := forecast(m, known, issued, Horizon, p)
				if pts == nil {
					tb.Fatalf("%s: no forecast at %s", m, time.Unix(issued, 0).UTC())
				}
				for k, f := range pts {
					a := series[issued+int64(k)*hour]
					e := math.Abs(f-a) / math.Abs(a) * 100
					sum += e
					r.worst = max(r.worst, e)
					r.points++
				}
			}
		}
		r.mape = sum / float64(r.points)
		res = append(res, r)
	}
	return res
}

// TestBacktestTheProfileBeatsTheBaseline is the reason day_type_profile
// exists: it must forecast better than seasonal_naive on the simulated
// grid (the baseline is wrong every Monday and Saturday).
func TestBacktestTheProfileBeatsTheBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("computes five weeks of a fleet: skipped with -short")
	}
	res := backtest(t, 600)
	for _, r := range res {
		t.Logf("%-17s MAPE %.2f %%  worst point %.1f %%  (%d points)", r.model, r.mape, r.worst, r.points)
		if r.points == 0 || math.IsNaN(r.mape) {
			t.Fatalf("%s: no score", r.model)
		}
	}
	naive, profile := res[0], res[1]
	if naive.model != ModelSeasonalNaive || profile.model != ModelDayTypeProfile {
		t.Fatalf("models %s, %s", naive.model, profile.model)
	}
	if profile.mape >= naive.mape {
		t.Errorf("day_type_profile MAPE %.2f %% is not below the baseline's %.2f %%", profile.mape, naive.mape)
	}
}

// BenchmarkBacktest reports each model's MAPE (scripts/bench.sh writes it
// into BENCHMARKS.md): 3 feeders of 200 meters, two weeks of hourly issues.
func BenchmarkBacktest(b *testing.B) {
	var res []backtestResult
	for b.Loop() {
		res = backtest(b, 600)
	}
	for _, r := range res {
		b.ReportMetric(r.mape, fmt.Sprintf("mape_%%_%s", r.model))
	}
}
