package billingestimator

import (
	"math"
	"time"
)

// The estimation methods (README.md, "How a read is estimated"). Both work
// on the cumulative register: an estimate is a register value at the
// missing read's time, and the interval's energy is a difference of
// registers, so estimates of one gap add up to the register difference
// across it whenever the read after the gap is known.
const (
	// MethodInterpolation: linear on the register between the reads
	// around the gap; with no read after it yet, the meter's mean power
	// carried forward.
	MethodInterpolation = "interpolation"
	// MethodProfile: the meter's same-weekday, same-hour power profile,
	// scaled so the gap adds up to the register difference across it;
	// unscaled while the meter is silent.
	MethodProfile = "profile"
)

// Read is an actual read: when, and the register in kWh.
type Read struct {
	At  time.Time
	KWh float64
}

// Gap is what is known about one missing read.
type Gap struct {
	// Interval is the meter's read interval.
	Interval time.Duration
	// At is the missing read's time (the end of its interval).
	At time.Time
	// Before is the last actual read before At.
	Before Read
	// After is the first actual read after At; nil while the meter is
	// silent.
	After *Read
}

// Estimate is one method's estimate of a missing read.
type Estimate struct {
	Method string
	// RegisterKWh is the estimated register at the read's time.
	RegisterKWh float64
	// EnergyKWh is the estimated energy of the interval ending then.
	EnergyKWh float64
	// Confidence in [0, 1], from the rules in README.md.
	Confidence float64
}

// Missing returns the number of reads missing in the gap: from Before to
// After, or to At while the meter is silent.
func (g Gap) Missing() int {
	if g.After != nil {
		return max(1, int(math.Round(float64(g.After.At.Sub(g.Before.At))/float64(g.Interval)))-1)
	}
	return max(1, int(math.Round(float64(g.At.Sub(g.Before.At))/float64(g.Interval))))
}

// valid reports whether the gap can be estimated at all: a positive
// interval, Before < At < After, and a register that did not go backwards
// (a meter exchange or rollover is not estimated).
func (g Gap) valid() bool {
	if g.Interval <= 0 || !g.Before.At.Before(g.At) {
		return false
	}
	if g.After != nil && (!g.At.Before(g.After.At) || g.After.KWh < g.Before.KWh) {
		return false
	}
	return true
}

// Estimator computes estimates by one method.
type Estimator func(g Gap, p *Profile) (Estimate, bool)

// Estimators are the methods by name.
var Estimators = map[string]Estimator{
	MethodInterpolation: Interpolate,
	MethodProfile:       ProfileScaled,
}

// Interpolate estimates a bracketed read linearly on the register:
//
//	R(t) = R_b + (R_a - R_b) × (t - t_b) / (t_a - t_b)
//	E    = (R_a - R_b) × interval / (t_a - t_b)
//
// with confidence 0.95 × 0.93^(missing-1). While the meter is silent it
// carries the meter's mean power P forward from the last read:
// R(t) = R_b + P × (t - t_b), E = P × interval, confidence
// 0.5 × 0.9^(missing-1); without a mean power yet it declines.
func Interpolate(g Gap, p *Profile) (Estimate, bool) {
	if !g.valid() {
		return Estimate{}, false
	}
	miss := g.Missing()
	if g.After != nil {
		span := g.After.At.Sub(g.Before.At).Hours()
		dr := g.After.KWh - g.Before.KWh
		return Estimate{
			Method:      MethodInterpolation,
			RegisterKWh: round3(g.Before.KWh + dr*g.At.Sub(g.Before.At).Hours()/span),
			EnergyKWh:   round3(dr * g.Interval.Hours() / span),
			Confidence:  round3(0.95 * math.Pow(0.93, float64(miss-1))),
		}, true
	}
	kw, ok := p.Mean()
	if !ok {
		return Estimate{}, false
	}
	return Estimate{
		Method:      MethodInterpolation,
		RegisterKWh: round3(g.Before.KWh + kw*g.At.Sub(g.Before.At).Hours()),
		EnergyKWh:   round3(kw * g.Interval.Hours()),
		Confidence:  round3(0.5 * math.Pow(0.9, float64(miss-1))),
	}, true
}

// ProfileScaled estimates with the meter's profile: each interval j of the
// gap gets the weight w_j = profile power at its middle × interval, and
//
//	R(t_k) = R_b + (R_a - R_b) × Σ_{j≤k} w_j / Σ_j w_j
//	E_k    = (R_a - R_b) × w_k / Σ_j w_j
//
// with confidence 0.85 × coverage (the share of the gap's intervals whose
// own weekday-hour cell has been observed). While the meter is silent the
// weights are used unscaled: R(t_k) = R_b + Σ_{j≤k} w_j, E_k = w_k,
// confidence 0.6 × coverage. Without any profile it declines; with weights
// summing to zero it spreads the difference evenly.
func ProfileScaled(g Gap, p *Profile) (Estimate, bool) {
	if !g.valid() || p == nil || p.nAll == 0 {
		return Estimate{}, false
	}
	end := g.At
	if g.After != nil {
		end = g.After.At
	}
	m := max(1, int(math.Round(float64(end.Sub(g.Before.At))/float64(g.Interval))))
	k := int(math.Round(float64(g.At.Sub(g.Before.At)) / float64(g.Interval)))
	if k < 1 || k > m {
		return Estimate{}, false
	}
	var sum, upTo, wk float64
	covered := 0
	h := g.Interval.Hours()
	for j := 1; j <= m; j++ {
		mid := g.Before.At.Add(time.Duration(j)*g.Interval - g.Interval/2)
		kw, own := p.Rate(mid)
		if own {
			covered++
		}
		w := kw * h
		sum += w
		if j <= k {
			upTo += w
		}
		if j == k {
			wk = w
		}
	}
	coverage := float64(covered) / float64(m)
	if g.After == nil {
		return Estimate{
			Method:      MethodProfile,
			RegisterKWh: round3(g.Before.KWh + upTo),
			EnergyKWh:   round3(wk),
			Confidence:  round3(0.6 * coverage),
		}, true
	}
	dr := g.After.KWh - g.Before.KWh
	share, shareK := float64(k)/float64(m), 1/float64(m)
	if sum > 0 {
		share, shareK = upTo/sum, wk/sum
	}
	return Estimate{
		Method:      MethodProfile,
		RegisterKWh: round3(g.Before.KWh + dr*share),
		EnergyKWh:   round3(dr * shareK),
		Confidence:  round3(0.85 * coverage),
	}, true
}

// Profile is one meter's mean power by weekday and hour of day (UTC),
// learnt from the energy between consecutive reads: a running mean over the
// first 16 observations of a cell, then an exponential average with weight
// 1/16 (about four weeks of 15-minute reads). 1.0 KB per meter.
type Profile struct {
	rate [7 * 24]float32 // kW
	n    [7 * 24]uint16
	mean float32 // kW, every interval
	nAll uint32
}

const profileHorizon = 16

func cell(t time.Time) int {
	t = t.UTC()
	return int(t.Weekday())*24 + t.Hour()
}

// Observe adds the energy kwh used between two consecutive reads. Intervals
// longer than an hour feed only the mean.
func (p *Profile) Observe(from, to time.Time, kwh float64) {
	d := to.Sub(from)
	if d <= 0 || kwh < 0 {
		return
	}
	kw := kwh / d.Hours()
	p.nAll++
	p.mean += float32((kw - float64(p.mean)) / float64(min(p.nAll, profileHorizon)))
	if d > time.Hour {
		return
	}
	c := cell(from.Add(d / 2))
	if p.n[c] < math.MaxUint16 {
		p.n[c]++
	}
	p.rate[c] += float32((kw - float64(p.rate[c])) / float64(min(p.n[c], profileHorizon)))
}

// Mean returns the meter's mean power, false before any observation.
func (p *Profile) Mean() (float64, bool) {
	if p == nil || p.nAll == 0 {
		return 0, false
	}
	return float64(p.mean), true
}

// Rate returns the profile power at t: its weekday-hour cell (own = true)
// when observed, else the mean of the same hour on the other weekdays
// observed, else the meter's mean power.
func (p *Profile) Rate(t time.Time) (kw float64, own bool) {
	c := cell(t)
	if p.n[c] > 0 {
		return float64(p.rate[c]), true
	}
	var sum float64
	n := 0
	for d := range 7 {
		if i := d*24 + c%24; p.n[i] > 0 {
			sum += float64(p.rate[i])
			n++
		}
	}
	if n > 0 {
		return sum / float64(n), false
	}
	return float64(p.mean), false
}

// round3 rounds to the watt-hour, the registers' resolution.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
