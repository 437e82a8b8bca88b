package gapdetector

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func newKit(t *testing.T, cfg Config) *riverstest.Kit {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	return riverstest.New(t, svc)
}

func sendReading(k *riverstest.Kit, r events.MeterReading) {
	k.Send(k.Event(events.TypeMeterReading, r), riverstest.OnTopic(rivers.Rapids))
}

func TestServiceMissedAndLate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WarmUp = 0
	k := newKit(t, cfg)
	reading := func(m string, slot int) events.MeterReading {
		return events.MeterReading{MeterID: m, TransformerID: "TX-1", FeederID: "FD-1",
			ReadAt: t0.Add(time.Duration(slot) * 15 * time.Minute), IntervalSeconds: 900, EnergyKWhTotal: 10, VoltageVolts: 230}
	}
	sendReading(k, reading("a", 0))
	for slot := range 5 {
		sendReading(k, reading("b", slot))
	}
	// A clock_invalid read a day ahead is ignored, not tracked.
	bad := reading("c", 96)
	bad.Flags = []string{events.FlagClockInvalid}
	sendReading(k, bad)
	if got := k.Published(events.TypeMeterReadingMissed); len(got) != 0 {
		t.Fatalf("missed before the timer ran: %d", len(got))
	}
	k.Advance(cfg.Tick)
	missed := k.Published(events.TypeMeterReadingMissed)
	if len(missed) != 2 {
		t.Fatalf("missed %d, want 2 (a at 10:15 and 10:30)", len(missed))
	}
	var p events.MeterReadingMissed
	if err := json.Unmarshal(missed[0].Data, &p); err != nil {
		t.Fatal(err)
	}
	if p.MeterID != "a" || !p.ExpectedAt.Equal(t0.Add(15*time.Minute)) || p.GraceSeconds != 1800 || missed[0].PartitionKey != "a" {
		t.Errorf("missed %+v key %q", p, missed[0].PartitionKey)
	}
	sendReading(k, reading("a", 1))
	late := k.Published(events.TypeMeterReadingLate)
	if len(late) != 1 || late[0].PartitionKey != "a" {
		t.Fatalf("late %v", late)
	}

	// An unusable read is dead-lettered and the next one is processed.
	broken := reading("d", 0)
	broken.IntervalSeconds = 100000
	sendReading(k, broken)
	if dl := k.DeadLetters(); len(dl) != 1 {
		t.Errorf("dead letters %d, want 1", len(dl))
	}
	sendReading(k, reading("a", 5))
	k.Advance(cfg.Tick)
	var n int
	for _, ev := range k.Published(events.TypeMeterReadingMissed) {
		var m events.MeterReadingMissed
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			t.Fatal(err)
		}
		if m.MeterID == "d" || m.MeterID == "c" {
			n++
		}
	}
	if n != 0 {
		t.Errorf("%d missed events for untracked meters", n)
	}
}

func TestServiceCheckpointRestart(t *testing.T) {
	store := &MemoryCheckpoints{}
	cfg := DefaultConfig()
	cfg.Checkpoints = store
	cfg.CheckpointEvery = time.Second
	k := newKit(t, cfg)
	for slot := range 8 {
		for _, m := range []string{"a", "b"} {
			sendReading(k, events.MeterReading{MeterID: m, TransformerID: "TX-1", FeederID: "FD-1",
				ReadAt: t0.Add(time.Duration(slot) * 15 * time.Minute), IntervalSeconds: 900, EnergyKWhTotal: 10, VoltageVolts: 230})
		}
	}
	k.Advance(time.Second)
	data, err := store.Load(t.Context(), Name)
	if err != nil {
		t.Fatal(err)
	}
	restored := NewTracker(cfg.tracker())
	if err := restored.UnmarshalBinary(data); err != nil || restored.Meters() != 2 {
		t.Fatalf("checkpoint of %d meters, %v", restored.Meters(), err)
	}
}

// Issue #12 items 3 and 5: a restart of the ecosystem must conclude what
// an uninterrupted run does. The restarted detector rebuilds its state from
// the partition's history (rivers.PartitionState), so the warm-up of the
// first start stays where it was and nothing is lost, whether the stop was
// clean or not.
func TestServiceFinalCheckpointNeedsNoWarmUp(t *testing.T) {
	reading := func(m string, slot int) events.MeterReading {
		return events.MeterReading{MeterID: m, TransformerID: "TX-1", FeederID: "FD-1",
			ReadAt: t0.Add(time.Duration(slot) * 15 * time.Minute), IntervalSeconds: 900, EnergyKWhTotal: 10, VoltageVolts: 230}
	}
	run := func(stopErr error) []events.MeterReadingMissed {
		store := &MemoryCheckpoints{}
		cfg := DefaultConfig() // a 1h warm-up
		cfg.Checkpoints = store
		bus := riverstest.NewBus() // the rapids outlive the detector
		start := func() (*Detector, *riverstest.Kit) {
			svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
			if err != nil {
				t.Fatal(err)
			}
			d, err := Attach(svc, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return d, riverstest.New(t, svc, riverstest.WithBus(bus))
		}
		d, k := start()
		for slot := range 9 {
			sendReading(k, reading("a", slot))
			sendReading(k, reading("b", slot))
		}
		k.Advance(cfg.Tick)
		if err := d.Stopped(t.Context(), stopErr); err != nil {
			t.Fatal(err)
		}
		// After the restart, a falls silent at slot 9 (2h15); b reports.
		_, k = start()
		for slot := 9; slot <= 13; slot++ {
			sendReading(k, reading("b", slot))
		}
		k.Advance(cfg.Tick)
		var out []events.MeterReadingMissed
		for _, ev := range k.Published(events.TypeMeterReadingMissed) {
			var m events.MeterReadingMissed
			if err := json.Unmarshal(ev.Data, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	got := run(nil)
	if len(got) != 3 || got[0].MeterID != "a" || !got[0].ExpectedAt.Equal(t0.Add(9*15*time.Minute)) {
		t.Errorf("after a clean stop: missed %+v, want a at 12:15, 12:30 and 12:45 (the watermark at 13:15 less the 30m grace)", got)
	}
	if got := run(errors.New("crashed")); len(got) != 3 || got[0].MeterID != "a" || !got[0].ExpectedAt.Equal(t0.Add(9*15*time.Minute)) {
		t.Errorf("after an unclean stop: missed %+v, want the same as after a clean stop", got)
	}
}
