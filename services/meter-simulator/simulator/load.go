package simulator

import (
	"math"
	"time"
)

// The load model. Every value is a pure function of (seed, meter, absolute
// interval), so any interval can be computed alone, in any order, and the
// simulator and a test computing the expectation agree to the watt-hour.
//
// demand_kW = base + scale × profile(minute of day + premise shift, weekday
// or weekend) × (1 + noise × u),  u uniform in [-1, 1), floored at 0.02 kW.
//
// The shared profile has a morning and an evening peak; weekends rise later
// and spend more of the day at home. Products are wrapped in explicit
// float64 conversions so the compiler never fuses them into FMA
// instructions: the same inputs give the same bits on every architecture.

// profiles holds the shared daily shape per minute, [0] weekdays, [1] weekends.
type profiles [2][1440]float64

func newProfiles() *profiles {
	var p profiles
	for m := range 1440 {
		h := float64(m) / 60
		p[0][m] = 0.18 + 0.55*bump(h, 7.5, 1.1) + 0.35*bump(h, 13, 2.5) + 0.95*bump(h, 19, 1.8)
		p[1][m] = 0.24 + 0.50*bump(h, 9.5, 1.8) + 0.45*bump(h, 13.5, 2.5) + 0.85*bump(h, 18.5, 2.2)
	}
	return &p
}

// bump is a Gaussian bump at mu hours with width sigma, wrapped over 24 h.
func bump(h, mu, sigma float64) float64 {
	d := math.Abs(h - mu)
	if d > 12 {
		d = 24 - d
	}
	return math.Exp(-(d * d) / (2 * sigma * sigma))
}

// demandKW returns meter m's undisturbed average demand over the interval
// that ends at unix second end and lasts sec seconds.
func (f *Fleet) demandKW(m int, end, sec int64) float64 {
	mt := &f.meters[m]
	mid := end - sec/2
	day := mid / 86400
	minute := int((mid%86400)/60) + mt.shiftMin
	if minute < 0 {
		minute += 1440
	} else if minute >= 1440 {
		minute -= 1440
	}
	// 1970-01-01 was a Thursday: day 2 (Sat) and 3 (Sun) modulo 7.
	weekend := 0
	if wd := (day%7 + 7) % 7; wd == 2 || wd == 3 {
		weekend = 1
	}
	p := f.profile[weekend][minute]
	u := 2*unit(mix(f.cfg.Seed, uint64(m)<<32^uint64(end/sec), saltNoise)) - 1
	x := float64(mt.noise * u)
	y := float64(p * float64(1+x))
	d := mt.baseKW + float64(mt.scaleKW*y)
	return max(d, 0.02)
}

// energyWh converts a demand over sec seconds into whole watt-hours.
func energyWh(demandKW float64, sec int64) int64 {
	return roundInt(float64(demandKW*float64(sec)) / 3.6)
}

// demandW is the average demand, in whole watts, that delivers wh over sec
// seconds: what the meter reports, so energy = demand × interval holds to
// the watt.
func demandW(wh, sec int64) int64 {
	return roundInt(float64(wh*3600) / float64(sec))
}

// voltageDV returns the voltage in decivolts seen by meter m whose own
// demand is dKW, on a transformer carrying loadKW, at the interval ending at
// end: nominal ± a per-transformer tap offset ± noise, minus a sag
// proportional to the transformer's loading, minus the service-cable drop.
func (f *Fleet) voltageDV(m int, dKW, loadKW float64, end, sec int64) int32 {
	t := f.txOf[m]
	nom := f.cfg.NominalVoltage
	tap := 0.015 * (2*unit(mix(f.cfg.Seed, uint64(t), saltVoltage)) - 1)
	u := 2*unit(mix(f.cfg.Seed, uint64(m)<<32^uint64(end/sec), saltVoltage)) - 1
	sag := 0.06 * nom * min(loadKW/f.txCapacityKW[t], 1.5)
	v := nom*(1+tap+0.006*u) - sag - f.meters[m].dropV*dKW
	return int32(roundInt(v * 10))
}

// unixSec returns t in unix seconds.
func unixSec(t time.Time) int64 { return t.Unix() }
