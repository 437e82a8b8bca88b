package rivers

import (
	"slices"
	"strings"
	"testing"
)

func TestNewRiverRejectsBadDeclarations(t *testing.T) {
	for name, r := range map[string]*River{
		"no types":      NewRiver(),
		"empty type":    NewRiver(""),
		"inner star":    NewRiver("meter.*.v1"),
		"empty key":     NewRiver("a.b.v1").Require(""),
		"empty segment": NewRiver("a.b.v1").Interested("location..id"),
		"object value":  NewRiver("a.b.v1").RequireValue("k", map[string]int{"a": 1}),
		"no values":     NewRiver("a.b.v1").RequireValues("k"),
		"empty name":    NewRiver("a.b.v1").Named(""),
		"empty topic":   NewRiver("a.b.v1").OnTopic(""),
	} {
		if r.err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := NewRiver("meter.reading.v1", "system.*", "*").Require("a.b").err(); err != nil {
		t.Errorf("valid river: %v", err)
	}
}

func TestRiverMatchType(t *testing.T) {
	r := NewRiver("meter.reading.v1", "system.*")
	for typ, want := range map[string]bool{
		"meter.reading.v1":        true,
		"meter.reading.v2":        false,
		"system.heartbeat.v1":     true,
		"systems.heartbeat.v1":    false,
		"meter.reading.missed.v1": false,
	} {
		if got := r.matchType(typ); got != want {
			t.Errorf("matchType(%q) = %v, want %v", typ, got, want)
		}
	}
	if !NewRiver("*").matchType("anything.at.all.v9") {
		t.Error(`"*" does not match everything`)
	}
	if got, want := NewRiver("b.c.v1", "a.*").Name(), "b.c.v1,a.*"; got != want {
		t.Errorf("default name %q, want %q", got, want)
	}
}

func TestRiverCheck(t *testing.T) {
	r := NewRiver("meter.reading.v1").
		Require("meter_id", "location.feeder_id").
		RequireValue("status", "ok").
		RequireValues("interval_s", 900, 300).
		Forbid("estimated").
		ForbidValues("source", "simulator")
	for name, c := range map[string]struct {
		data string
		want []string // substrings of the problems, in order
	}{
		"all good":          {`{"meter_id":"M1","location":{"feeder_id":"F1"},"status":"ok","interval_s":900}`, nil},
		"number forms":      {`{"meter_id":"M1","location":{"feeder_id":"F1"},"status":"ok","interval_s":3e2}`, nil},
		"missing":           {`{"location":{},"status":"ok","interval_s":900}`, []string{`"meter_id" is missing`, `"location.feeder_id" is missing`}},
		"null is missing":   {`{"meter_id":null,"location":{"feeder_id":"F1"},"status":"ok","interval_s":900}`, []string{`"meter_id" is missing`}},
		"wrong value":       {`{"meter_id":"M1","location":{"feeder_id":"F1"},"status":"estimated","interval_s":60}`, []string{`"status" is "estimated"`, `"interval_s" is 60`}},
		"string not number": {`{"meter_id":"M1","location":{"feeder_id":"F1"},"status":"ok","interval_s":"900"}`, []string{`"interval_s" is "900"`}},
		"forbidden":         {`{"meter_id":"M1","location":{"feeder_id":"F1"},"status":"ok","interval_s":900,"estimated":true}`, []string{`forbidden key "estimated"`}},
		"forbidden null ok": {`{"meter_id":"M1","location":{"feeder_id":"F1"},"status":"ok","interval_s":900,"estimated":null}`, nil},
		"forbidden value":   {`{"meter_id":"M1","location":{"feeder_id":"F1"},"status":"ok","interval_s":900,"source":"simulator"}`, []string{`"source" is "simulator", a forbidden value`}},
		"other value ok":    {`{"meter_id":"M1","location":{"feeder_id":"F1"},"status":"ok","interval_s":900,"source":"field"}`, nil},
		"not an object":     {`[1,2]`, []string{`"meter_id" is missing`}},
	} {
		problems := r.check(newPayload([]byte(c.data)))
		if len(problems) < len(c.want) || (len(c.want) == 0 && len(problems) > 0) {
			t.Errorf("%s: problems %q, want %q", name, problems, c.want)
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(problems[i], w) {
				t.Errorf("%s: problem %d = %q, want it to contain %q", name, i, problems[i], w)
			}
		}
	}
}

func TestRiverAllows(t *testing.T) {
	r := NewRiver("a.b.v1").Require("meter_id").Interested("location")
	for key, want := range map[string]bool{
		"meter_id": true, "location": true, "location.feeder_id": true,
		"meter": false, "meter_id.x": true, "voltage_v": false, "loc": false,
	} {
		if got := r.allows(key); got != want {
			t.Errorf("allows(%q) = %v, want %v", key, got, want)
		}
	}
	if got := r.Types(); !slices.Equal(got, []string{"a.b.v1"}) {
		t.Errorf("Types() = %v", got)
	}
}
