package simulator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestConfigFromEnv(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 7, 31, 0, time.UTC)
	c, err := configFromLookup(lookup(map[string]string{
		"SIM_METERS": "500", "SIM_SEED": "42", "SIM_SPEED": "3600", "SIM_RATE": "max",
		"SIM_END": "+48h", "SIM_DUPLICATE_RATE": "0.02",
		"SIM_FAULTS": "outage,target=TX-00003,from=+6h,for=2h; clock_skew,target=MTR-0000004,skew=-7m",
	}), now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fleet.Meters != 500 || c.Fleet.Seed != 42 || c.Speed != 3600 || c.Rate != RateMax || c.Interval != 15*time.Minute {
		t.Fatalf("%+v", c)
	}
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if !c.End.Equal(start.Add(48 * time.Hour)) {
		t.Errorf("end %s", c.End)
	}
	if len(c.Faults) != 3 {
		t.Fatalf("faults %+v", c.Faults)
	}
	out := c.Faults[1]
	if out.Kind != FaultOutage || out.Target != "TX-00003" || !out.From.Equal(start.Add(6*time.Hour)) || !out.To.Equal(start.Add(8*time.Hour)) {
		t.Errorf("outage %+v", out)
	}
	if c.Faults[0].Kind != FaultDuplicate || c.Faults[0].Rate != 0.02 || c.Faults[2].Skew != -7*time.Minute {
		t.Errorf("faults %+v", c.Faults)
	}
	bad := map[string]string{
		"SIM_METERS": "lots", "SIM_SPEED": "-1", "SIM_RATE": "ludicrous", "SIM_INTERVAL": "7m",
		"SIM_START": "yesterday", "SIM_FAULTS": "meteor,target=TX-00001", "SIM_MISSING_RATE": "2",
		"SIM_MAX_UPLOAD_DELAY": "20m", "SIM_CHECKPOINT": "/no/such/dir/sim.json",
	}
	for k, v := range bad {
		_, err := configFromLookup(lookup(map[string]string{k: v}), now)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	cp := t.TempDir() + "/sim.json"
	if c, err := configFromLookup(lookup(map[string]string{"SIM_CHECKPOINT": cp}), now); err != nil || c.Checkpoint != cp {
		t.Errorf("SIM_CHECKPOINT=%s: %+v, %v", cp, c.Checkpoint, err)
	}
	// An unknown target is caught at start.
	if _, err := configFromLookup(lookup(map[string]string{"SIM_FAULTS": "stuck,target=TX-99999"}), now); err == nil || !strings.Contains(err.Error(), "TX-99999") {
		t.Errorf("unknown target: %v", err)
	}
}

func TestFaultCommand(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	data := []byte(`{"kind":"outage","target":"TX-00003","duration_s":7200}`)
	if err := Schemas().Validate(TypeFault, data); err != nil {
		t.Fatal(err)
	}
	c, err := ParseFaultCommand(data)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Fault(now)
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != FaultOutage || !f.From.Equal(now) || !f.To.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("%+v", f)
	}
	for _, bad := range []string{`{"kind":"meteor"}`, `{"kind":"missing","rate":1.5}`, `{"target":"TX-1"}`} {
		if Schemas().Validate(TypeFault, []byte(bad)) == nil {
			t.Errorf("schema accepted %s", bad)
		}
	}
	if _, err := (FaultCommand{Kind: FaultOutage}).Fault(now); err == nil {
		t.Error("outage without an end accepted")
	}
	if _, err := (FaultCommand{Kind: FaultOutage, To: now.Add(time.Hour), DurationS: 60}).Fault(now); err == nil {
		t.Error("to and duration_s both accepted")
	}
}

// TestRecordsAreValidEvents checks the wire form: every good item decodes as
// a binary-mode CloudEvent whose data passes the catalog's meter.reading.v1
// schema; every malformed item fails to decode.
func TestRecordsAreValidEvents(t *testing.T) {
	f := testFleet(t, 200)
	g := NewGenerator(testModel(t, f, Scenario{Faults: []Fault{{Kind: FaultMalformed, Rate: 0.05}, {Kind: FaultDuplicate, Rate: 0.05}}}))
	enc := newEncoder("rapids", time.Hour)
	now := time.Now()
	ids := map[string]string{} // ce_id → data
	good, bad := 0, 0
	for up := range g.Uploads(t0.Add(3 * time.Hour)) {
		for _, it := range up.Items {
			rec := enc.record(it, up.Due, now)
			if rec.Topic != "rapids" || string(rec.Key) != it.Reading.TransformerID {
				t.Fatalf("record %s key %q", rec.Topic, rec.Key)
			}
			ev, err := contracts.DecodeBinary(rec.Message())
			if it.Kind == ItemMalformed {
				if err == nil {
					t.Fatalf("malformed item decoded: %s", rec.Value)
				}
				bad++
				continue
			}
			if err != nil {
				t.Fatalf("%v: %s", err, rec.Value)
			}
			good++
			if ev.Type != events.TypeMeterReading || ev.Source != Source || !ev.Time.Equal(up.Due) || ev.PartitionKey != it.Reading.TransformerID || ev.ExpiryTime.IsZero() {
				t.Fatalf("event %+v", ev)
			}
			// The id is the reading's identity: a duplicate repeats the id
			// and the data of its original; distinct readings never share one.
			if want := events.ReadingID(it.Reading.MeterID, it.Reading.ReadAt); ev.ID != want {
				t.Fatalf("ce_id %s, want ReadingID %s", ev.ID, want)
			}
			if seen, ok := ids[ev.ID]; ok != (it.Kind == ItemDuplicate) || (ok && seen != string(ev.Data)) {
				t.Fatalf("ce_id %s (kind %d) seen before: %v, with data %s, now %s", ev.ID, it.Kind, ok, seen, ev.Data)
			}
			ids[ev.ID] = string(ev.Data)
			if err := catalog.Default().Validate(events.TypeMeterReading, ev.Data); err != nil {
				t.Fatalf("%v: %s", err, ev.Data)
			}
		}
	}
	if good == 0 || bad == 0 {
		t.Fatalf("%d good, %d malformed", good, bad)
	}
}
