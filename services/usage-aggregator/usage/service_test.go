package usage

import (
	"encoding/json"
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
