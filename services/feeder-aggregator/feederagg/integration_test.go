package feederagg

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

func TestIntegrationFeederAggregator(t *testing.T) {
	kc := kafkaConfig(t)
	cfg := DefaultConfig()
	cfg.Tick = 50 * time.Millisecond
	cfg.FeederSettle = 500 * time.Millisecond // the first windows close on the timer
	startService(t, kc, Name, func(svc *rivers.Service) error { return Register(svc, cfg) })
	next := riverEvents(t, kc)

	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	reading := func(m string, slot int) events.MeterReading {
		return events.MeterReading{MeterID: m, TransformerID: "TX-1", FeederID: "FD-1",
			ReadAt: base.Add(time.Duration(slot) * 15 * time.Minute), IntervalSeconds: 900,
			EnergyKWhTotal: 100 + float64(slot)*0.5, DemandKW: 2, VoltageVolts: 229}
	}
	for slot := 0; slot <= 5; slot++ {
		var batch []events.MeterReading
		for _, m := range []string{"m1", "m2", "m3"} {
			if m == "m3" && slot == 2 {
				continue // m3 misses the 10:30 read
			}
			batch = append(batch, reading(m, slot))
		}
		publishReadings(t, kc, batch...)
	}

	// Watermark 11:15, lateness 30m: transformer windows ending 10:00 (the
	// meters' first reads: no energy without an earlier register), 10:15,
	// 10:30 and 10:45; feeder windows for those a later transformer window
	// followed on the rivers: 10:00 to 10:30.
	got := next(events.TypeFeederLoad, 7)
	for _, ev := range got {
		var l events.FeederLoad
		if err := json.Unmarshal(ev.Data, &l); err != nil {
			t.Fatal(err)
		}
		reporting, energy := 3, 1.5
		switch {
		case l.End.Equal(base):
			energy = 0
		case l.End.Equal(base.Add(30 * time.Minute)):
			reporting, energy = 2, 1
		case l.End.Equal(base.Add(45 * time.Minute)):
			energy = 2 // m3's register moved over two slots
		}
		if l.MetersReporting != reporting || l.MetersExpected != 3 || l.LoadKW != float64(2*reporting) ||
			l.EnergyKWh != energy || l.VoltageMinVolts == nil || *l.VoltageMinVolts != 229 {
			t.Errorf("%s %s %v: %+v, want %d of 3 meters reporting", l.Level, l.ID, l.Start, l, reporting)
		}
	}
}
