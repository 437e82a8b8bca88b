package feederagg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// sendReads sends meter m of transformer tx's reads at minutes mins on the
// rapids.
func sendReads(k *riverstest.Kit, tx string, meters int, mins ...int) {
	for _, min := range mins {
		for m := range meters {
			r := rd(tx, m, min)
			k.Send(k.Event(events.TypeMeterReading, events.MeterReading{MeterID: r.MeterID, TransformerID: r.TransformerID,
				FeederID: r.FeederID, ReadAt: r.ReadAt, IntervalSeconds: 900, EnergyKWhTotal: r.EnergyKWh, DemandKW: r.DemandKW,
				VoltageVolts: r.VoltageV}), riverstest.OnTopic(rivers.Rapids))
		}
	}
}

// published waits until pred holds for the feeder.load.v1 the kit's
// service published, and returns them by window (level id start).
func published(t *testing.T, k *riverstest.Kit, pred func(map[string][]contracts.Event) bool) map[string][]contracts.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		byKey := map[string][]contracts.Event{}
		for _, ev := range k.Published(events.TypeFeederLoad) {
			var l events.FeederLoad
			if err := json.Unmarshal(ev.Data, &l); err != nil {
				t.Fatal(err)
			}
			k := fmt.Sprintf("%s %s %d", l.Level, l.ID, int(l.Start.Sub(t0)/time.Minute))
			byKey[k] = append(byKey[k], ev)
		}
		if pred(byKey) {
			return byKey
		}
		if time.Now().After(deadline) {
			keys := make([]string, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			t.Fatalf("not published yet; published: %v", keys)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServicePublishesLoads(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.FeederSettle = 0 // the kit's records are stamped on a clock that stands still
	if err := Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	k := riverstest.New(t, svc)
	for _, min := range []int{0, 15, 30, 45, 60} {
		sendReads(k, "T1", 2, min)
		sendReads(k, "T2", 1, min)
	}
	// Watermark 11:00, lateness 30m: transformer windows up to 10:15-10:30;
	// the feeder level closes those a later transformer window followed.
	got := published(t, k, func(m map[string][]contracts.Event) bool { return len(m["feeder FD-1 0"]) > 0 })
	var l events.FeederLoad
	if err := json.Unmarshal(got["transformer T1 0"][0].Data, &l); err != nil {
		t.Fatal(err)
	}
	if ev := got["transformer T1 0"][0]; ev.PartitionKey != "FD-1" || ev.ID != rivers.DerivedID(events.TypeFeederLoad, Transformer, "T1", at(0).Format(time.RFC3339)) {
		t.Errorf("key %q id %s, want the feeder and an id derived from the window", ev.PartitionKey, ev.ID)
	}
	if l.EnergyKWh != 0.5 || l.MetersReporting != 2 || l.LoadKW != 2 {
		t.Errorf("transformer window %+v", l)
	}
	if err := json.Unmarshal(got["feeder FD-1 0"][0].Data, &l); err != nil {
		t.Fatal(err)
	}
	if l.EnergyKWh != 0.75 || l.MetersReporting != 3 || l.MetersExpected != 3 || l.LoadKW != 3 || got["feeder FD-1 0"][0].PartitionKey != "FD-1" {
		t.Errorf("feeder window %+v", l)
	}
	for k, evs := range got {
		if len(evs) != 1 {
			t.Errorf("%s published %d times", k, len(evs))
		}
	}
}

// Issue #12 item 3: an instance that takes the partitions over (the first
// killed: no stop) rebuilds both levels from the partitions' history and
// goes on with the windows the first would have closed.
func TestServiceHandoverRebuildsFromHistory(t *testing.T) {
	bus := riverstest.NewBus()
	cfg := DefaultConfig()
	cfg.FeederSettle = 0
	start := func(name string) *riverstest.Kit {
		svc, err := rivers.NewService(rivers.Config{Name: Name, Instance: name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Attach(svc, cfg); err != nil {
			t.Fatal(err)
		}
		return riverstest.New(t, svc, riverstest.WithBus(bus))
	}
	run := func(handover bool) map[string]events.FeederLoad {
		bus = riverstest.NewBus()
		k := start("a")
		for _, min := range []int{0, 15, 30, 45, 60} {
			sendReads(k, "T1", 2, min)
			sendReads(k, "T2", 1, min)
		}
		published(t, k, func(m map[string][]contracts.Event) bool { return len(m["feeder FD-1 0"]) > 0 })
		if handover {
			k = start("b")
		}
		// T2 (one meter) falls silent: T2's windows are 0 of 1 reporting.
		sendReads(k, "T1", 2, 75, 90, 105, 120)
		got := published(t, k, func(m map[string][]contracts.Event) bool { return len(m["feeder FD-1 60"]) > 0 })
		out := map[string]events.FeederLoad{}
		for key, evs := range got {
			var l events.FeederLoad
			if err := json.Unmarshal(evs[len(evs)-1].Data, &l); err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs[1:] {
				if ev.ID != evs[0].ID || !bytes.Equal(ev.Data, evs[0].Data) {
					t.Errorf("%s published twice, differently: %s and %s", key, evs[0].Data, ev.Data)
				}
			}
			out[key] = l
		}
		return out
	}
	want, got := run(false), run(true)
	if len(got) != len(want) {
		t.Errorf("after the handover %d windows, without %d", len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; g.EnergyKWh != w.EnergyKWh || g.MetersReporting != w.MetersReporting || g.MetersExpected != w.MetersExpected || g.LoadKW != w.LoadKW {
			t.Errorf("%s: %+v after the handover, %+v without", k, g, w)
		}
	}
	if w := want["feeder FD-1 60"]; w.MetersReporting != 2 || w.MetersExpected != 3 {
		t.Errorf("feeder window with T2 silent: %+v, want 2 of 3 reporting", w)
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
