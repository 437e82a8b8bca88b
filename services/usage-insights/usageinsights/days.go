package usageinsights

import (
	"slices"
	"sort"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// Day is what the service keeps of one meter's day: the latest
// usage.interval.v1 for it (a correction replaces it, never adds to it),
// and whether it has been judged.
type Day struct {
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	EnergyKWh     float64   `json:"energy_kwh"`
	Reads         int       `json:"reads"`
	ReadsExpected int       `json:"reads_expected"`
	// Judged is set once the day was judged for unusual usage; Ratio is
	// then energy / baseline when it had a baseline, and Unusual whether
	// it was published as unusual.
	Judged  bool     `json:"judged,omitempty"`
	Ratio   *float64 `json:"ratio,omitempty"`
	Unusual bool     `json:"unusual,omitempty"`
}

// Coverage is the share of the day's expected reads that arrived, in [0, 1].
func (d Day) Coverage() float64 {
	if d.ReadsExpected <= 0 {
		return 0
	}
	return min(float64(d.Reads)/float64(d.ReadsExpected), 1)
}

// Meter is a meter's place in the grid, from its usage events.
type Meter struct {
	ID            string `json:"meter_id"`
	TransformerID string `json:"transformer_id"`
	FeederID      string `json:"feeder_id"`
}

// dayOf is the Day a daily usage.interval.v1 states.
func dayOf(u *events.UsageInterval) Day {
	return Day{Start: u.Start, End: u.End, EnergyKWh: u.EnergyKWh, Reads: u.Reads, ReadsExpected: u.ReadsExpected}
}

// sortDays orders days by start.
func sortDays(days []Day) {
	sort.Slice(days, func(i, j int) bool { return days[i].Start.Before(days[j].Start) })
}

// dayEnding returns the index of the day that ends at t (the day before
// the one starting at t), or -1.
func dayEnding(days []Day, t time.Time) int {
	return slices.IndexFunc(days, func(d Day) bool { return d.End.Equal(t) })
}

// verdict is the judgement of one day.
type verdict struct {
	index        int // the day judged, in the days given
	unusual      bool
	ratio        *float64
	baselineKWh  float64
	baselineDays int
}

// judge decides, on the arrival of the day starting at arrived, whether
// the day before it was unusual. A day is judged once, when the next day
// was published (so late reads had a day of event time to correct it, and
// the days hold the latest figures), and only when it and the day before it
// have at least cfg.MinCoverage of their reads: when reads are missing,
// the next read's whole difference goes to the period it falls in, so a
// gap at the end of one day moves its energy into the next. Its baseline
// is the mean of up to cfg.BaselineDays earlier days with that coverage;
// with fewer than cfg.MinBaselineDays there is none and the day is not
// unusual. It is unusual when its energy is at least cfg.MinKWh and above
// cfg.UnusualFactor × the baseline. ok is false when there is nothing to
// judge (no day before arrived, or it was judged already).
func judge(days []Day, arrived time.Time, cfg Config) (v verdict, ok bool) {
	i := dayEnding(days, arrived)
	if i < 0 || days[i].Judged {
		return verdict{}, false
	}
	v.index = i
	d := days[i]
	prev := dayEnding(days, d.Start)
	if d.Coverage() < cfg.MinCoverage || prev < 0 || days[prev].Coverage() < cfg.MinCoverage {
		return v, true
	}
	sum := 0.0
	for j := i - 1; j >= 0 && v.baselineDays < cfg.BaselineDays; j-- {
		if !days[j].End.After(d.Start) && days[j].Coverage() >= cfg.MinCoverage {
			sum += days[j].EnergyKWh
			v.baselineDays++
		}
	}
	if v.baselineDays < cfg.MinBaselineDays {
		v.baselineDays = 0
		return v, true
	}
	v.baselineKWh = sum / float64(v.baselineDays)
	if v.baselineKWh > 0 {
		r := d.EnergyKWh / v.baselineKWh
		v.ratio = &r
		v.unusual = d.EnergyKWh >= cfg.MinKWh && r > cfg.UnusualFactor
	}
	return v, true
}

// median returns the median of xs (xs is reordered), and false for none.
func median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2], true
	}
	return (xs[n/2-1] + xs[n/2]) / 2, true
}

// Week is one calendar week (Monday to Monday, in the days' own offset)
// of a meter's usage: the sum of the days the service has of it.
type Week struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	EnergyKWh float64   `json:"energy_kwh"`
	Days      int       `json:"days"`
	Complete  bool      `json:"complete"`
}

// weeks groups days (sorted by start) into calendar weeks, newest first.
func weeks(days []Day) []Week {
	var out []Week
	for _, d := range days {
		wd := (int(d.Start.Weekday()) + 6) % 7 // Monday 0
		y, m, dd := d.Start.Date()
		start := time.Date(y, m, dd-wd, 0, 0, 0, 0, d.Start.Location())
		if n := len(out); n > 0 && out[n-1].Start.Equal(start) {
			out[n-1].EnergyKWh += d.EnergyKWh
			out[n-1].Days++
			continue
		}
		out = append(out, Week{Start: start, End: start.AddDate(0, 0, 7), EnergyKWh: d.EnergyKWh, Days: 1})
	}
	for i := range out {
		out[i].EnergyKWh = round3(out[i].EnergyKWh)
		out[i].Complete = out[i].Days == 7
	}
	slices.Reverse(out)
	return out
}

// round3 rounds to the watt-hour, as usage.interval.v1's figures are.
func round3(x float64) float64 {
	if x < 0 {
		return -round3(-x)
	}
	return float64(int64(x*1000+0.5)) / 1000
}
