package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	cases := []struct{ typ, data, want string }{
		{"outage.suspected.v1", `{"transformer_id":"t-7","feeder_id":"f-1","silent_share":0.75,"meters_total":4,"first_silent_at":"2026-03-01T12:00:00Z"}`,
			"outage suspected on transformer t-7 (feeder f-1): 75% of 4 meters silent since 2026-03-01 12:00:00Z"},
		{"outage.restored.v1", `{"transformer_id":"t-7","feeder_id":"f-1","duration_s":90,"meters_restored":4,"meters_affected":4}`,
			"power restored on transformer t-7 (feeder f-1) after 1m30s: 4 of 4 meters back"},
		{"feeder.load.v1", `{"level":"feeder","id":"f-1","load_kw":12.5,"energy_kwh":3,"start":"2026-03-01T12:00:00Z"}`,
			"feeder f-1: 12.50 kW, 3 kWh from 2026-03-01 12:00:00Z"},
		{"x.unknown.v1", `{"b":"two","a":1,"nested":{"c":1}}`, "a=1, b=two"},
		{"x.unknown.v1", `not json`, "payload: not json"},
		{"meter.reading.missed.v1", `{}`, "meter ? missed its read due ? (? in a row) on transformer ?, feeder ?"},
	}
	for _, c := range cases {
		if got := Summarize(c.typ, []byte(c.data)); got != c.want {
			t.Errorf("%s %s:\n got %q\nwant %q", c.typ, c.data, got, c.want)
		}
	}
}

// Every catalog type has a summary of its own, not the fallback: a new
// type needs its case in Summarize.
func TestEveryTypeHasItsSummary(t *testing.T) {
	for _, typ := range Types() {
		data, err := os.ReadFile(filepath.Join("..", "examples", typ+".json"))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		got := Summarize(typ, data)
		if got == fields(m).generic() || strings.Contains(got, "?") {
			t.Errorf("%s: summary %q is the fallback or names a member the example lacks", typ, got)
		}
	}
}
