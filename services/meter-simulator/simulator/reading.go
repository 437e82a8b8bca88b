package simulator

import (
	"strconv"
	"time"
)

// Flags are a reading's status flags.
type Flags uint8

// Status flags a meter reports with a read.
const (
	// FlagPowerFail: the meter lost supply during the interval (the first
	// read after an outage carries it).
	FlagPowerFail Flags = 1 << iota
	// FlagClockInvalid: the meter knows its clock is not trustworthy.
	FlagClockInvalid
	// FlagTamper: the meter's tamper switch tripped.
	FlagTamper
)

var flagNames = [...]struct {
	flag Flags
	name string
}{{FlagPowerFail, "power_fail"}, {FlagClockInvalid, "clock_invalid"}, {FlagTamper, "tamper"}}

// Names returns the flags' names as meter.reading.v1 spells them.
func (f Flags) Names() []string {
	var out []string
	for _, fl := range flagNames {
		if f&fl.flag != 0 {
			out = append(out, fl.name)
		}
	}
	return out
}

// Reading is one interval read of one meter, in exact integer units.
//
// Exactness rule: the register is kept in whole watt-hours, so on the wire
// energy_kwh_total has exactly 3 decimals (0.001 kWh = 1 Wh); demand_kw has
// 3 decimals (whole watts) and voltage_v 1 decimal. A consumer that converts
// a value v back with math.Round(v*1000) gets the simulator's integer
// exactly, so sums and differences of registers are exact.
type Reading struct {
	MeterID       string
	TransformerID string
	FeederID      string
	// ReadAt is when the meter took the read: the end of the interval
	// (shifted by a clock-skew fault, if any).
	ReadAt time.Time
	// Interval is the read interval the reading covers.
	Interval time.Duration
	// RegisterWh is the cumulative energy register in Wh.
	RegisterWh int64
	// DemandW is the average demand over the interval in W.
	DemandW int64
	// VoltageDV is the voltage at the read in decivolts (2301 = 230.1 V).
	VoltageDV int32
	Flags     Flags
}

// EnergyKWhTotal is the register in kWh (3 decimals).
func (r Reading) EnergyKWhTotal() float64 { return float64(r.RegisterWh) / 1000 }

// DemandKW is the average demand in kW (3 decimals).
func (r Reading) DemandKW() float64 { return float64(r.DemandW) / 1000 }

// VoltageV is the voltage in V (1 decimal).
func (r Reading) VoltageV() float64 { return float64(r.VoltageDV) / 10 }

// AppendJSON appends the reading as the data of a meter.reading.v1 event
// (contracts/schemas/meter.reading.v1.json; flags omitted when none),
// without allocating when buf has room. Numbers are written as exact
// decimals from the integer units.
func (r Reading) AppendJSON(buf []byte) []byte {
	buf = append(buf, `{"meter_id":"`...)
	buf = append(buf, r.MeterID...)
	buf = append(buf, `","transformer_id":"`...)
	buf = append(buf, r.TransformerID...)
	buf = append(buf, `","feeder_id":"`...)
	buf = append(buf, r.FeederID...)
	buf = append(buf, `","read_at":"`...)
	buf = r.ReadAt.UTC().AppendFormat(buf, time.RFC3339)
	buf = append(buf, `","interval_s":`...)
	buf = strconv.AppendInt(buf, int64(r.Interval/time.Second), 10)
	buf = append(buf, `,"energy_kwh_total":`...)
	buf = appendFixed(buf, r.RegisterWh, 3)
	buf = append(buf, `,"demand_kw":`...)
	buf = appendFixed(buf, r.DemandW, 3)
	buf = append(buf, `,"voltage_v":`...)
	buf = appendFixed(buf, int64(r.VoltageDV), 1)
	if r.Flags != 0 {
		buf = append(buf, `,"flags":[`...)
		sep := false
		for _, fl := range flagNames {
			if r.Flags&fl.flag != 0 {
				if sep {
					buf = append(buf, ',')
				}
				buf = append(buf, '"')
				buf = append(buf, fl.name...)
				buf = append(buf, '"')
				sep = true
			}
		}
		buf = append(buf, ']')
	}
	return append(buf, '}')
}

// appendFixed writes v / 10^decimals as an exact decimal.
func appendFixed(buf []byte, v int64, decimals int) []byte {
	if v < 0 {
		buf = append(buf, '-')
		v = -v
	}
	pow := int64(1)
	for range decimals {
		pow *= 10
	}
	buf = strconv.AppendInt(buf, v/pow, 10)
	if decimals == 0 {
		return buf
	}
	buf = append(buf, '.')
	frac := v % pow
	for p := pow / 10; p > 1 && frac < p; p /= 10 {
		buf = append(buf, '0')
	}
	return strconv.AppendInt(buf, frac, 10)
}
