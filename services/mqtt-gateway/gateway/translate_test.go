package gateway

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMeterFromTopic(t *testing.T) {
	cases := []struct {
		pattern, topic, want string
		ok                   bool
	}{
		{"meters/+/reading", "meters/MTR-1/reading", "MTR-1", true},
		{"meters/+/reading", "meters/MTR-1/status", "", false},
		{"meters/+/reading", "meters/MTR-1/reading/x", "", false},
		{"meters/+/reading", "meters//reading", "", false},
		{"site/+/meters/+/reading", "site/A/meters/M/reading", "A", true},
		{"meters/#", "meters/a/b", "", false},
		{"meters/+/#", "meters/M9/x/y", "M9", true},
		{"meters/reading", "meters/reading", "", false},
	}
	for _, c := range cases {
		got, ok := MeterFromTopic(c.pattern, c.topic)
		if got != c.want || ok != c.ok {
			t.Errorf("MeterFromTopic(%q, %q) = %q, %v; want %q, %v", c.pattern, c.topic, got, ok, c.want, c.ok)
		}
	}
}

const good = `{"transformer_id":"TX-1","feeder_id":"FDR-1","read_at":"2026-03-02T10:15:00Z","interval_s":900,"energy_kwh_total":1234.567,"demand_kw":1.2,"voltage_v":231.5,"flags":["power_fail"]}`

func TestTranslate(t *testing.T) {
	r, data, err := Translate("meters/+/reading", "meters/MTR-7/reading", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if r.MeterID != "MTR-7" || r.EnergyKWhTotal != 1234.567 || r.IntervalSeconds != 900 || !r.ReadAt.Equal(time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)) {
		t.Fatalf("%+v", r)
	}
	var back map[string]any
	if err := json.Unmarshal(data, &back); err != nil || back["meter_id"] != "MTR-7" || back["voltage_v"] != 231.5 {
		t.Fatalf("data %s: %v", data, err)
	}
	// meter_id in the payload agreeing with the topic is fine.
	withID := strings.Replace(good, "{", `{"meter_id":"MTR-7",`, 1)
	if _, _, err := Translate("meters/+/reading", "meters/MTR-7/reading", []byte(withID)); err != nil {
		t.Fatal(err)
	}
	// ... and needed when the pattern has no wildcard.
	if _, _, err := Translate("meters/all", "meters/all", []byte(withID)); err != nil {
		t.Fatal(err)
	}
}

func TestTranslateRefuses(t *testing.T) {
	cases := map[string]string{
		"not json":          `MTR-7 1234.5 kWh`,
		"array":             `[1,2,3]`,
		"null":              `null`,
		"id mismatch":       strings.Replace(good, "{", `{"meter_id":"MTR-8",`, 1),
		"id not a string":   strings.Replace(good, "{", `{"meter_id":8,`, 1),
		"missing required":  strings.Replace(good, `"voltage_v":231.5,`, ``, 1),
		"negative register": strings.Replace(good, `1234.567`, `-1`, 1),
		"unknown property":  strings.Replace(good, "{", `{"colour":"red",`, 1),
		"wrong type":        strings.Replace(good, `900`, `"900"`, 1),
		"bad date":          strings.Replace(good, `2026-03-02T10:15:00Z`, `yesterday`, 1),
	}
	for name, payload := range cases {
		_, _, err := Translate("meters/+/reading", "meters/MTR-7/reading", []byte(payload))
		var pe *PayloadError
		if !errors.Is(err, ErrPayload) || !errors.As(err, &pe) || pe.Topic != "meters/MTR-7/reading" {
			t.Errorf("%s: err = %v, want a *PayloadError", name, err)
		}
	}
	if _, _, err := Translate("meters/all", "meters/all", []byte(good)); !errors.Is(err, ErrPayload) {
		t.Errorf("no meter id anywhere: %v", err)
	}
}
