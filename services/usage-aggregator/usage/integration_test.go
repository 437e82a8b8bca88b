package usage

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

func TestIntegrationUsageAggregator(t *testing.T) {
	kc := kafkaConfig(t)
	cfg := DefaultConfig()
	cfg.Tick = 50 * time.Millisecond
	startService(t, kc, Name, func(svc *rivers.Service) error { return Register(svc, cfg) })
	next := riverEvents(t, kc)

	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	regWh := func(slot int) int64 { return 5_000_000 + int64(slot*(slot+3)*7) }
	reading := func(m string, slot int) events.MeterReading {
		return events.MeterReading{MeterID: m, TransformerID: "TX-1", FeederID: "FD-1",
			ReadAt: base.Add(time.Duration(slot) * 15 * time.Minute), IntervalSeconds: 900,
			EnergyKWhTotal: float64(regWh(slot)) / 1000, DemandKW: 1, VoltageVolts: 230}
	}
	// 10:00 .. 13:00 for two meters, each pair of reads reversed and the
	// second one duplicated.
	for slot := 0; slot <= 12; slot += 2 {
		var batch []events.MeterReading
		for _, m := range []string{"m1", "m2"} {
			if slot+1 <= 12 {
				batch = append(batch, reading(m, slot+1))
			}
			batch = append(batch, reading(m, slot), reading(m, slot))
		}
		publishReadings(t, kc, batch...)
	}

	// Watermark 13:00, lateness 1h: hours 10-11 and 11-12 of both meters.
	got := next(events.TypeUsageInterval, 4)
	for _, ev := range got {
		var u events.UsageInterval
		if err := json.Unmarshal(ev.Data, &u); err != nil {
			t.Fatal(err)
		}
		h := int(u.Start.Sub(base) / time.Hour)
		want := float64(regWh(4*h+4)-regWh(4*h)) / 1000
		if u.Period != events.PeriodHour || u.EnergyKWh != want || u.Reads != 4 || u.ReadsExpected != 4 || ev.PartitionKey != u.MeterID {
			t.Errorf("%s hour %d: %+v key %q, want %v kWh from 4 reads", u.MeterID, h, u, ev.PartitionKey, want)
		}
	}
}
