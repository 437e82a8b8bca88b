package gapdetector

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

func TestIntegrationGapDetector(t *testing.T) {
	kc := kafkaConfig(t)
	cfg := DefaultConfig()
	cfg.Tick = 50 * time.Millisecond
	cfg.WarmUp = 0
	cfg.CheckpointEvery = 0
	startService(t, kc, Name, func(svc *rivers.Service) error { return Register(svc, cfg) })
	next := riverEvents(t, kc)

	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	reading := func(m string, slot int) events.MeterReading {
		return events.MeterReading{MeterID: m, TransformerID: "TX-1", FeederID: "FD-1",
			ReadAt: base.Add(time.Duration(slot) * 15 * time.Minute), IntervalSeconds: 900,
			EnergyKWhTotal: 100 + float64(slot), DemandKW: 1, VoltageVolts: 230}
	}
	// One batch per interval, as a live head-end delivers them at the
	// simulator's pace (15 grid minutes a second, by record time). The
	// stream runs five hours: a partition that only held m4, read to its
	// end, stops holding the watermark back once the detector has read
	// IdleAfter (10s) of newer records from the others.
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	for slot := range 20 {
		var batch []events.MeterReading
		for _, m := range []string{"m1", "m2", "m3", "m4"} {
			if m == "m4" && slot > 1 {
				continue
			}
			batch = append(batch, reading(m, slot))
		}
		batch = append(batch, reading("m1", slot)) // a duplicate
		publishReadingsAt(t, kc, start.Add(time.Duration(slot)*time.Second), batch...)
	}

	// m4's slots from 10:30 on are missed, in order.
	missed := next(events.TypeMeterReadingMissed, 6)
	for i, ev := range missed {
		var p events.MeterReadingMissed
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			t.Fatal(err)
		}
		want := base.Add(time.Duration(i+2) * 15 * time.Minute)
		if p.MeterID != "m4" || !p.ExpectedAt.Equal(want) || p.ConsecutiveMissed != i+1 || ev.PartitionKey != "m4" {
			t.Errorf("missed %d: %+v key %q, want m4 at %v", i, p, ev.PartitionKey, want)
		}
	}

	publishReadings(t, kc, reading("m4", 2))
	late := next(events.TypeMeterReadingLate, 1)
	var l events.MeterReadingLate
	if err := json.Unmarshal(late[0].Data, &l); err != nil {
		t.Fatal(err)
	}
	if l.MeterID != "m4" || !l.ReadAt.Equal(base.Add(30*time.Minute)) || l.DelaySeconds != 255*60 {
		t.Errorf("late %+v", l)
	}
}
