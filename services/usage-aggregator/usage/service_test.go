package usage

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestServicePublishesAndCorrects(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Lateness = 30 * time.Minute
	if err := Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	k := riverstest.New(t, svc)
	send := func(min int) {
		r := rd("m1", min)
		k.Send(k.Event(events.TypeMeterReading, events.MeterReading{MeterID: r.MeterID, TransformerID: r.TransformerID,
			FeederID: r.FeederID, ReadAt: r.ReadAt, IntervalSeconds: 900, EnergyKWhTotal: r.EnergyKWh, DemandKW: r.DemandKW,
			VoltageVolts: 230}), riverstest.OnTopic(rivers.Rapids))
	}
	for _, min := range []int{0, 15, 30, 45, 75, 90, 105, 120} { // 60 missing
		send(min)
	}
	k.Advance(cfg.Tick)
	got := k.Published(events.TypeUsageInterval)
	if len(got) != 1 {
		t.Fatalf("published %d, want hour 00-01", len(got))
	}
	send(60) // late: corrects hour 00-01 (and 01-02 is not closed yet)
	got = k.Published(events.TypeUsageInterval)
	if len(got) != 2 {
		t.Fatalf("published %d, want the first and a correction", len(got))
	}
	var first, corr events.UsageInterval
	if err := json.Unmarshal(got[0].Data, &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got[1].Data, &corr); err != nil {
		t.Fatal(err)
	}
	if !corr.Start.Equal(first.Start) || corr.EnergyKWh != float64(reg(60)-reg(0))/1000 || first.EnergyKWh != float64(reg(45)-reg(0))/1000 || corr.Reads != 4 {
		t.Errorf("first %+v\ncorrection %+v", first, corr)
	}
	if got[1].CausationID == "" || got[1].PartitionKey != "m1" {
		t.Errorf("a correction is derived from the late read and keyed by meter: %+v", got[1])
	}
}

func TestPayloadMatchesTheCatalog(t *testing.T) {
	iv := Interval{MeterID: "m", TransformerID: "t", FeederID: "f", Period: Hour, Start: t0, End: t0.Add(time.Hour),
		EnergyWh: 1234, Reads: 4, ReadsExpected: 4, MaxDemandKW: -1.5, RegisterStartWh: 1000, RegisterEndWh: 2234}
	p := Payload(iv)
	if err := catalog.Default().ValidateValue(events.TypeUsageInterval, p); err != nil {
		t.Error(err)
	}
	if p.EnergyKWh != 1.234 || *p.RegisterEndKWh != 2.234 {
		t.Errorf("payload %+v", p)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("USAGE_LATENESS", "2h")
	t.Setenv("USAGE_TIME_ZONE", "Europe/London")
	c, err := ConfigFromEnv()
	if err != nil || c.Lateness != 2*time.Hour || c.TimeZone != "Europe/London" {
		t.Fatalf("%+v %v", c, err)
	}
	for k, v := range map[string]string{"USAGE_TIME_ZONE": "Mars/Olympus", "USAGE_HORIZON": "1h", "USAGE_TICK": "x"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			if _, err := ConfigFromEnv(); err == nil {
				t.Errorf("%s=%s accepted", k, v)
			}
		})
	}
}

// Issue #12 item 3: an instance that takes the rapids partition over
// rebuilds the meters from the partition's history and publishes the
// figures one instance would have, with the same ids; the instance that
// lost the partition drops it.
func TestServiceHandoverRebuildsFromHistory(t *testing.T) {
	bus := riverstest.NewBus()
	cfg := DefaultConfig()
	cfg.Lateness = 30 * time.Minute
	start := func(name string) (*Service, *riverstest.Kit) {
		svc, err := rivers.NewService(rivers.Config{Name: Name, Instance: name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := Attach(svc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s, riverstest.New(t, svc, riverstest.WithBus(bus))
	}
	send := func(k *riverstest.Kit, min int) {
		r := rd("m1", min)
		k.Send(k.Event(events.TypeMeterReading, events.MeterReading{MeterID: r.MeterID, TransformerID: r.TransformerID,
			FeederID: r.FeederID, ReadAt: r.ReadAt, IntervalSeconds: 900, EnergyKWhTotal: r.EnergyKWh, DemandKW: r.DemandKW,
			VoltageVolts: 230}), riverstest.OnTopic(rivers.Rapids))
	}
	a, ka := start("a")
	for _, min := range []int{0, 15, 30, 45, 60, 75, 90} {
		send(ka, min)
	}
	ka.Advance(cfg.Tick)
	first := ka.Published(events.TypeUsageInterval)
	if len(first) != 1 {
		t.Fatalf("instance a published %d intervals, want hour 00-01", len(first))
	}
	// Instance b takes the partition over (a is killed: no stop).
	_, kb := start("b")
	for _, min := range []int{105, 120, 135, 150} {
		send(kb, min)
	}
	kb.Advance(cfg.Tick)
	all := kb.Published(events.TypeUsageInterval) // both instances' (one source)
	var hours []string
	ids := map[string]string{}
	for _, ev := range all {
		var iv events.UsageInterval
		if err := json.Unmarshal(ev.Data, &iv); err != nil {
			t.Fatal(err)
		}
		key := iv.Start.UTC().Format("15:04")
		hours = append(hours, fmt.Sprintf("%s %.3f %d", key, iv.EnergyKWh, iv.Reads))
		if id, ok := ids[key]; ok && id != ev.ID {
			t.Errorf("hour %s published twice with ids %s and %s: want the same event", key, id, ev.ID)
		}
		ids[key] = ev.ID
	}
	want := []string{
		fmt.Sprintf("00:00 %.3f 4", float64(reg(60)-reg(0))/1000),
		fmt.Sprintf("00:00 %.3f 4", float64(reg(60)-reg(0))/1000), // b declares it again: the same event
		fmt.Sprintf("01:00 %.3f 4", float64(reg(120)-reg(60))/1000),
	}
	slices.Sort(hours)
	if !slices.Equal(hours, want) {
		t.Errorf("published %v, want %v", hours, want)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		a.Aggregator(func(agg *Aggregator) { n = agg.Meters() })
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance a still holds %d meters of the partition it lost", n)
		}
		time.Sleep(time.Millisecond)
	}
}
