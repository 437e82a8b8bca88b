package validator

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func newService(t *testing.T, cfg Config) (*riverstest.Kit, *handler) {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := register(svc, v)
	if err != nil {
		t.Fatal(err)
	}
	return riverstest.New(t, svc), h
}

func sendReading(k *riverstest.Kit, r events.MeterReading, at time.Time) string {
	e := k.Event(events.TypeMeterReading, r)
	e.PartitionKey = r.MeterID
	e.Time = at
	k.Send(e, riverstest.OnTopic(rivers.Rapids))
	return e.ID
}

func TestServicePublishesOnlyExceptions(t *testing.T) {
	k, _ := newService(t, Config{})
	at := riverstest.Start
	q := 15 * time.Minute
	sendReading(k, reading("M1", at, 100), at)
	sendReading(k, reading("M1", at.Add(q), 100.3), at.Add(q))
	if got := k.Published(events.TypeMeterReadingRejected, events.TypeMeterReadingAnomalous); len(got) != 0 {
		t.Fatalf("good reads published %d events", len(got))
	}
	dupID := sendReading(k, reading("M1", at.Add(q), 100.3), at.Add(q))
	spike := reading("M2", at.Add(q), 5)
	spike.DemandKW = 80
	spikeID := sendReading(k, spike, at.Add(q))

	rej := k.Published(events.TypeMeterReadingRejected)
	if len(rej) != 1 {
		t.Fatalf("%d rejected events", len(rej))
	}
	var r events.MeterReadingRejected
	if err := json.Unmarshal(rej[0].Data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Rule != RuleDuplicate || r.ReadingEventID != dupID || r.MeterID != "M1" || rej[0].PartitionKey != "M1" || rej[0].CausationID != dupID {
		t.Fatalf("rejected %+v (key %q, cause %q)", r, rej[0].PartitionKey, rej[0].CausationID)
	}
	var orig events.MeterReading
	if err := json.Unmarshal(r.Reading, &orig); err != nil || orig.EnergyKWhTotal != 100.3 {
		t.Fatalf("reading as received: %s (%v)", r.Reading, err)
	}
	an := k.Published(events.TypeMeterReadingAnomalous)
	if len(an) != 1 {
		t.Fatalf("%d anomalous events", len(an))
	}
	var a events.MeterReadingAnomalous
	if err := json.Unmarshal(an[0].Data, &a); err != nil {
		t.Fatal(err)
	}
	if a.Rule != RuleDemandSpike || a.ReadingEventID != spikeID || a.Value == nil || *a.Value != 80 || a.Reading.MeterID != "M2" {
		t.Fatalf("anomalous %+v", a)
	}
	if n := k.Metric("validator_findings_total", "rule", RuleDuplicate); n != 1 {
		t.Errorf("findings metric = %v", n)
	}
}

func TestServiceDeadLettersBadPayload(t *testing.T) {
	k, _ := newService(t, Config{})
	e := k.Event(events.TypeMeterReading, map[string]any{"meter_id": "M1", "read_at": "not a time"})
	k.Send(e, riverstest.OnTopic(rivers.Rapids))
	if len(k.DeadLetters()) != 1 {
		t.Fatalf("%d dead letters", len(k.DeadLetters()))
	}
	// The stream goes on.
	r := reading("M1", riverstest.Start, 1)
	r.VoltageVolts = 900
	sendReading(k, r, riverstest.Start)
	if got := k.Published(events.TypeMeterReadingRejected); len(got) != 1 {
		t.Fatalf("after a dead letter: %d rejected", len(got))
	}
}
