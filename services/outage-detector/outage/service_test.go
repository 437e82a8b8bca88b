package outage

import (
	"encoding/json"
	"testing"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestServiceSuspectsAndRestores(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.WarmUp = 0 // reads stop at minute 0: no hour of reads to warm up on
	if err := Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	k := riverstest.New(t, svc)
	read := func(m string, min int) {
		k.Send(k.Event(events.TypeMeterReading, events.MeterReading{MeterID: m, TransformerID: "T1", FeederID: "F1",
			ReadAt: at(min), IntervalSeconds: 900, EnergyKWhTotal: 1, VoltageVolts: 230}), riverstest.OnTopic(rivers.Rapids))
	}
	missed := func(m string, min int) {
		k.Send(k.Event(events.TypeMeterReadingMissed, events.MeterReadingMissed{MeterID: m, TransformerID: "T1", FeederID: "F1",
			ExpectedAt: at(min), IntervalSeconds: 900, GraceSeconds: 1800, ConsecutiveMissed: 1, DetectedAt: at(min + 30)}))
	}
	meters := []string{"a", "b", "c", "d", "e"}
	for _, m := range meters {
		read(m, 0)
	}
	for _, m := range meters[:3] {
		missed(m, 15)
	}
	k.Advance(cfg.Tick)
	sus := k.Published(events.TypeOutageSuspected)
	if len(sus) != 1 || sus[0].PartitionKey != "T1" {
		t.Fatalf("suspected %v", sus)
	}
	for _, m := range meters[:3] {
		missed(m, 30)
	}
	k.Advance(cfg.Tick)
	if n := len(k.Published(events.TypeOutageSuspected)); n != 1 {
		t.Errorf("suspected %d times, want once", n)
	}
	for _, m := range meters {
		read(m, 45)
	}
	k.Advance(cfg.Tick)
	res := k.Published(events.TypeOutageRestored)
	if len(res) != 1 {
		t.Fatalf("restored %d, want 1", len(res))
	}
	var r events.OutageRestored
	if err := json.Unmarshal(res[0].Data, &r); err != nil {
		t.Fatal(err)
	}
	if r.DurationSeconds != 30*60 || r.MetersAffected != 3 {
		t.Errorf("restored %+v", r)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("OUTAGE_THRESHOLD", "0.6")
	c, err := ConfigFromEnv()
	if err != nil || c.Threshold != 0.6 {
		t.Fatalf("%+v %v", c, err)
	}
	for k, v := range map[string]string{"OUTAGE_RESTORE_SHARE": "0.7", "OUTAGE_MIN_METERS": "0", "OUTAGE_WINDOW": "x", "OUTAGE_THRESHOLD": "2"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			if _, err := ConfigFromEnv(); err == nil {
				t.Errorf("%s=%s accepted", k, v)
			}
		})
	}
}
