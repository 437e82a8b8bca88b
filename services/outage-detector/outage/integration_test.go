package outage

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

func publishMissed(t *testing.T, kc rapids.Config, ms ...events.MeterReadingMissed) {
	t.Helper()
	p, err := rapids.NewProducer(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var recs []rapids.Record
	for _, m := range ms {
		ev, err := contracts.New("/services/gap-detector", events.TypeMeterReadingMissed, m)
		if err != nil {
			t.Fatal(err)
		}
		ev.PartitionKey = m.MeterID
		rec, err := rapids.NewRecord(kc.Topics.Rivers, ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationOutageDetector(t *testing.T) {
	kc := kafkaConfig(t)
	cfg := DefaultConfig()
	cfg.Tick = 50 * time.Millisecond
	cfg.WarmUp = 0 // the stream stops at slot 0: no hour of reads to warm up on
	var s0 *Service
	startService(t, kc, Name, func(svc *rivers.Service) error {
		var err error
		s0, err = Attach(svc, cfg)
		return err
	})
	next := riverEvents(t, kc)

	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(slot int) time.Time { return base.Add(time.Duration(slot) * 15 * time.Minute) }
	reading := func(m, tx string, slot int) events.MeterReading {
		return events.MeterReading{MeterID: m, TransformerID: tx, FeederID: "FD-1", ReadAt: at(slot),
			IntervalSeconds: 900, EnergyKWhTotal: 100, DemandKW: 1, VoltageVolts: 230}
	}
	missed := func(m, tx string, slot int) events.MeterReadingMissed {
		return events.MeterReadingMissed{MeterID: m, TransformerID: tx, FeederID: "FD-1", ExpectedAt: at(slot),
			IntervalSeconds: 900, GraceSeconds: 1800, ConsecutiveMissed: slot, DetectedAt: at(slot + 2)}
	}
	meters := []string{"a", "b", "c", "d"}
	var reads []events.MeterReading
	for _, m := range meters {
		reads = append(reads, reading(m, "TX-1", 0), reading("2"+m, "TX-2", 0))
	}
	publishReadings(t, kc, reads...)
	// The rapids and the rivers are consumed independently: wait until the
	// population is known before the silence starts.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		s0.Detector(func(d *Detector) { n = len(d.meters) })
		if n == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d meters known, want 8", n)
		}
	}
	// TX-1 loses supply for a, b, c; TX-2 loses one meter only.
	var ms []events.MeterReadingMissed
	for slot := 1; slot <= 3; slot++ {
		for _, m := range meters[:3] {
			ms = append(ms, missed(m, "TX-1", slot))
		}
		ms = append(ms, missed("2a", "TX-2", slot))
	}
	publishMissed(t, kc, ms...)

	sus := next(events.TypeOutageSuspected, 1)
	var s events.OutageSuspected
	if err := json.Unmarshal(sus[0].Data, &s); err != nil {
		t.Fatal(err)
	}
	if s.TransformerID != "TX-1" || len(s.MetersSilent) != 3 || s.MetersTotal != 4 || !s.FirstSilentAt.Equal(at(1)) {
		t.Errorf("suspected %+v", s)
	}

	// Supply returns at slot 4.
	reads = nil
	for _, m := range meters {
		reads = append(reads, reading(m, "TX-1", 4))
	}
	publishReadings(t, kc, reads...)
	res := next(events.TypeOutageRestored, 1)
	var r events.OutageRestored
	if err := json.Unmarshal(res[0].Data, &r); err != nil {
		t.Fatal(err)
	}
	if r.OutageID != s.OutageID || r.TransformerID != "TX-1" || !r.RestoredAt.Equal(at(4)) || r.DurationSeconds != 45*60 || r.MetersRestored != 3 {
		t.Errorf("restored %+v", r)
	}
}
