package feederagg

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestServicePublishesLoads(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Lateness = 0
	if err := Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	k := riverstest.New(t, svc)
	for _, min := range []int{0, 15} {
		for m := range 2 {
			r := rd("T1", m, min)
			k.Send(k.Event(events.TypeMeterReading, events.MeterReading{MeterID: r.MeterID, TransformerID: r.TransformerID,
				FeederID: r.FeederID, ReadAt: r.ReadAt, IntervalSeconds: 900, EnergyKWhTotal: r.EnergyKWh, DemandKW: r.DemandKW,
				VoltageVolts: r.VoltageV}), riverstest.OnTopic(rivers.Rapids))
		}
	}
	k.Advance(cfg.Tick)
	var tx []events.FeederLoad
	for _, ev := range k.Published(events.TypeFeederLoad) {
		var l events.FeederLoad
		if err := json.Unmarshal(ev.Data, &l); err != nil {
			t.Fatal(err)
		}
		if l.Level == events.LevelTransformer {
			tx = append(tx, l)
			if ev.PartitionKey != "T1" {
				t.Errorf("key %q, want T1", ev.PartitionKey)
			}
		}
	}
	if len(tx) != 2 || tx[1].EnergyKWh != 0.5 || tx[1].MetersReporting != 2 || tx[1].LoadKW != 2 {
		t.Errorf("transformer loads %+v", tx)
	}
}

func TestPayloadMatchesTheCatalog(t *testing.T) {
	for _, l := range []Load{
		{Level: Transformer, ID: "t", FeederID: "f", Start: t0, End: t0.Add(15 * time.Minute), LoadKW: -2, EnergyWh: 10,
			VoltageMin: 228, VoltageMax: 231, VoltageAvg: 230, HasVoltage: true, MetersReporting: 2, MetersExpected: 3},
		{Level: Feeder, ID: "f", FeederID: "f", Start: t0, End: t0.Add(15 * time.Minute), MetersExpected: 3},
	} {
		if err := catalog.Default().ValidateValue(events.TypeFeederLoad, Payload(l)); err != nil {
			t.Error(err)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("FEEDER_WINDOW", "5m")
	c, err := ConfigFromEnv()
	if err != nil || c.Window != 5*time.Minute {
		t.Fatalf("%+v %v", c, err)
	}
	for k, v := range map[string]string{"FEEDER_WINDOW": "7m", "FEEDER_LATENESS": "-1m", "FEEDER_SKEW_CONFIRM": "x"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			if _, err := ConfigFromEnv(); err == nil {
				t.Errorf("%s=%s accepted", k, v)
			}
		})
	}
}
