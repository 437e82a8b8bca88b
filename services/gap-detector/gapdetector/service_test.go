package gapdetector

import (
	"encoding/json"
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
