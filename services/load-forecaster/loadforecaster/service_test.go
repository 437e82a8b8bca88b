package loadforecaster

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func newKit(t *testing.T) *riverstest.Kit {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(svc, Config{}); err != nil {
		t.Fatal(err)
	}
	return riverstest.New(t, svc)
}

// exampleFeederLoad is a valid feeder.load.v1, from contracts/examples/feeder.load.v1.json.
// Add the cases the service must get right beside it.
const exampleFeederLoad = `{
  "level": "transformer",
  "id": "TX-0042",
  "feeder_id": "FDR-07",
  "start": "2025-03-01T10:00:00Z",
  "end": "2025-03-01T10:15:00Z",
  "load_kw": 84.6,
  "peak_load_kw": 91.3,
  "energy_kwh": 21.15,
  "voltage_min_v": 226.1,
  "voltage_max_v": 248.7,
  "voltage_avg_v": 238.9,
  "meters_reporting": 47,
  "meters_expected": 48
}`

func feederLoadExample(t testing.TB) events.FeederLoad {
	t.Helper()
	var in events.FeederLoad
	if err := json.Unmarshal([]byte(exampleFeederLoad), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// sendFeederLoad sends in as its producers do: on the rivers, keyed by id.
func sendFeederLoad(kit *riverstest.Kit, in events.FeederLoad) {
	e := kit.Event(events.TypeFeederLoad, in)
	e.PartitionKey = in.ID
	kit.Send(e, riverstest.OnTopic(rivers.Rivers))
}

func TestFeederLoadIsHandled(t *testing.T) {
	kit := newKit(t)
	in := feederLoadExample(t)
	sendFeederLoad(kit, in)
	if n := kit.Metric(rivers.MetricHandlerDuration, "river", "feeder-load", "outcome", "ok"); n != 1 {
		t.Fatalf("%v feeder.load.v1 handled, want 1 (rejected by the river's rules: %v, dead-lettered: %v)",
			n, kit.Metric(rivers.MetricEventsRejected), len(kit.DeadLetters()))
	}
	// What it publishes for it is what feederLoadForecastFromFeederLoad returns.
	t.Run("feeder.load.forecast.v1", func(t *testing.T) {
		got := kit.Published(events.TypeFeederLoadForecast)
		want, ok := feederLoadForecastFromFeederLoad(in)
		if !ok {
			if len(got) != 0 {
				t.Errorf("%d published, want none: feederLoadForecastFromFeederLoad maps nothing", len(got))
			}
			return
		}
		if len(got) != 1 {
			t.Fatalf("%d published, want 1", len(got))
		}
		var out, wantJSON any
		b, _ := json.Marshal(want)
		if err := json.Unmarshal(got[0].Data, &out); err != nil || json.Unmarshal(b, &wantJSON) != nil || !reflect.DeepEqual(out, wantJSON) {
			t.Errorf("published %s, want %s (%v)", got[0].Data, b, err)
		}
		if got[0].PartitionKey != want.FeederID {
			t.Errorf("key %q, want feeder_id %q", got[0].PartitionKey, want.FeederID)
		}
	})
}

// An event that breaks its schema never reaches the handler: the SDK
// dead-letters it (class "schema") and the partition moves on.
func TestFeederLoadBreakingItsSchemaIsDeadLettered(t *testing.T) {
	kit := newKit(t)
	var payload map[string]any
	if err := json.Unmarshal([]byte(exampleFeederLoad), &payload); err != nil {
		t.Fatal(err)
	}
	delete(payload, "level") // required
	kit.Send(kit.Event(events.TypeFeederLoad, payload), riverstest.OnTopic(rivers.Rivers))
	dead := kit.DeadLetters()
	if len(dead) != 1 || dead[0].Class != rivers.ClassSchema {
		t.Fatalf("dead letters %+v, want one of class schema", dead)
	}
	if n := kit.Metric(rivers.MetricHandlerDuration, "river", "feeder-load"); n != 0 {
		t.Errorf("the handler ran %v times, want 0", n)
	}
}

func TestHeartbeatDeclaresTheService(t *testing.T) {
	kit := newKit(t)
	kit.Advance(5 * time.Second)
	hb := kit.Heartbeat()
	if hb.Service != Name {
		t.Errorf("heartbeat of %q, want %q", hb.Service, Name)
	}
	var reads []string
	for _, s := range hb.Subscribes {
		reads = append(reads, s.Types...)
	}
	for _, typ := range []string{events.TypeFeederLoad} {
		if !slices.Contains(reads, typ) {
			t.Errorf("heartbeat subscribes to %v, not to %s", reads, typ)
		}
	}
	for _, typ := range []string{events.TypeFeederLoadForecast} {
		if !slices.Contains(hb.Publishes, typ) {
			t.Errorf("heartbeat publishes %v, not %s", hb.Publishes, typ)
		}
	}
}
