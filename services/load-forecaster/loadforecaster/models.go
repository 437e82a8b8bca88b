package loadforecaster

import (
	"time"
)

// The models. Each forecasts the 24 hours from issued (a whole hour, unix
// seconds) from a feeder's hourly load history, at(hour start) → mean kW.
// Both are pure functions of the history, so the service and the backtest
// (backtest_test.go) run the same code.

// Model names, as feeder.load.forecast.v1's model.
const (
	ModelSeasonalNaive  = "seasonal_naive"
	ModelDayTypeProfile = "day_type_profile"
)

// Models are the models the service runs, the baseline first.
var Models = []string{ModelSeasonalNaive, ModelDayTypeProfile}

const hour = int64(3600)
const day = 24 * hour

// history is a feeder's hourly load: the mean load_kw of the hour starting
// at the given unix second, and whether it is known.
type history func(hourStart int64) (float64, bool)

// seasonalNaive, the baseline: each hour's load is the load of the same
// hour a day earlier. It needs the whole last day.
func seasonalNaive(at history, issued int64, horizon int) []float64 {
	out := make([]float64, horizon)
	for k := range horizon {
		t := issued + int64(k)*hour
		back := t - day
		for back >= issued { // beyond a day ahead: the same hour of the last known day
			back -= day
		}
		v, ok := at(back)
		if !ok {
			return nil
		}
		out[k] = v
	}
	return out
}

// profileParams tune dayTypeProfile.
type profileParams struct {
	Days     int            // same-type days averaged per hour (5)
	LookBack int            // days searched for them (21)
	Level    int            // hours before issued the level is taken from (3)
	Loc      *time.Location // where weekdays and weekends are
}

// dayTypeProfile: the mean of the same hour over the last p.Days days of
// the same type (weekday or weekend, in p.Loc), scaled by how the last
// p.Level hours compared with their own profile (clamped to [0.8, 1.25], so
// one odd hour cannot swing a day). It answers what seasonalNaive gets
// wrong twice a week — Monday is not Sunday — and averages out noise.
func dayTypeProfile(at history, issued int64, horizon int, p profileParams) []float64 {
	profile := func(t int64) (float64, bool) {
		weekend := isWeekend(t, p.Loc)
		sum, n := 0.0, 0
		for j := 1; j <= p.LookBack && n < p.Days; j++ {
			b := t - int64(j)*day
			if b >= issued || isWeekend(b, p.Loc) != weekend {
				continue
			}
			if v, ok := at(b); ok {
				sum += v
				n++
			}
		}
		if n == 0 {
			return 0, false
		}
		return sum / float64(n), true
	}
	ratio, act, prof := 1.0, 0.0, 0.0
	for i := 1; i <= p.Level; i++ {
		a, ok1 := at(issued - int64(i)*hour)
		q, ok2 := profile(issued - int64(i)*hour)
		if ok1 && ok2 {
			act += a
			prof += q
		}
	}
	if prof > 0 && act > 0 {
		ratio = min(max(act/prof, 0.8), 1.25)
	}
	out := make([]float64, horizon)
	for k := range horizon {
		v, ok := profile(issued + int64(k)*hour)
		if !ok {
			return nil
		}
		out[k] = v * ratio
	}
	return out
}

// isWeekend reports whether the hour starting at t is on a Saturday or
// Sunday in loc.
func isWeekend(t int64, loc *time.Location) bool {
	wd := time.Unix(t, 0).In(loc).Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// forecast runs model on the history.
func forecast(model string, at history, issued int64, horizon int, p profileParams) []float64 {
	switch model {
	case ModelSeasonalNaive:
		return seasonalNaive(at, issued, horizon)
	case ModelDayTypeProfile:
		return dayTypeProfile(at, issued, horizon, p)
	}
	return nil
}
