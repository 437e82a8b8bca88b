package billingestimator

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

// exampleMeterReadingMissed is a valid meter.reading.missed.v1, from contracts/examples/meter.reading.missed.v1.json.
// Add the cases the service must get right beside it.
const exampleMeterReadingMissed = `{
  "meter_id": "MTR-000417",
  "transformer_id": "TX-0042",
  "feeder_id": "FDR-07",
  "expected_at": "2025-03-01T10:45:00Z",
  "interval_s": 900,
  "grace_s": 300,
  "consecutive_missed": 2,
  "last_read_at": "2025-03-01T10:30:00Z",
  "last_energy_kwh_total": 18234.512,
  "detected_at": "2025-03-01T10:50:00.214Z"
}`

func meterReadingMissedExample(t testing.TB) events.MeterReadingMissed {
	t.Helper()
	var in events.MeterReadingMissed
	if err := json.Unmarshal([]byte(exampleMeterReadingMissed), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// sendMeterReadingMissed sends in as its producers do: on the rivers, keyed by meter_id.
func sendMeterReadingMissed(kit *riverstest.Kit, in events.MeterReadingMissed) {
	e := kit.Event(events.TypeMeterReadingMissed, in)
	e.PartitionKey = in.MeterID
	kit.Send(e, riverstest.OnTopic(rivers.Rivers))
}

func TestMeterReadingMissedIsHandled(t *testing.T) {
	kit := newKit(t)
	in := meterReadingMissedExample(t)
	sendMeterReadingMissed(kit, in)
	if n := kit.Metric(rivers.MetricHandlerDuration, "river", "meter-reading-missed", "outcome", "ok"); n != 1 {
		t.Fatalf("%v meter.reading.missed.v1 handled, want 1 (rejected by the river's rules: %v, dead-lettered: %v)",
			n, kit.Metric(rivers.MetricEventsRejected), len(kit.DeadLetters()))
	}
	// What it publishes for it is what meterReadingEstimatedFromMeterReadingMissed returns.
	t.Run("meter.reading.estimated.v1", func(t *testing.T) {
		got := kit.Published(events.TypeMeterReadingEstimated)
		want, ok := meterReadingEstimatedFromMeterReadingMissed(in)
		if !ok {
			if len(got) != 0 {
				t.Errorf("%d published, want none: meterReadingEstimatedFromMeterReadingMissed maps nothing", len(got))
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
		if got[0].PartitionKey != want.MeterID {
			t.Errorf("key %q, want meter_id %q", got[0].PartitionKey, want.MeterID)
		}
	})
	// What it publishes for it is what meterReadingAdjustedFromMeterReadingMissed returns.
	t.Run("meter.reading.adjusted.v1", func(t *testing.T) {
		got := kit.Published(events.TypeMeterReadingAdjusted)
		want, ok := meterReadingAdjustedFromMeterReadingMissed(in)
		if !ok {
			if len(got) != 0 {
				t.Errorf("%d published, want none: meterReadingAdjustedFromMeterReadingMissed maps nothing", len(got))
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
		if got[0].PartitionKey != want.MeterID {
			t.Errorf("key %q, want meter_id %q", got[0].PartitionKey, want.MeterID)
		}
	})
	// What it publishes for it is what billingPeriodFromMeterReadingMissed returns.
	t.Run("billing.period.v1", func(t *testing.T) {
		got := kit.Published(events.TypeBillingPeriod)
		want, ok := billingPeriodFromMeterReadingMissed(in)
		if !ok {
			if len(got) != 0 {
				t.Errorf("%d published, want none: billingPeriodFromMeterReadingMissed maps nothing", len(got))
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
		if got[0].PartitionKey != want.MeterID {
			t.Errorf("key %q, want meter_id %q", got[0].PartitionKey, want.MeterID)
		}
	})
}

// An event that breaks its schema never reaches the handler: the SDK
// dead-letters it (class "schema") and the partition moves on.
func TestMeterReadingMissedBreakingItsSchemaIsDeadLettered(t *testing.T) {
	kit := newKit(t)
	var payload map[string]any
	if err := json.Unmarshal([]byte(exampleMeterReadingMissed), &payload); err != nil {
		t.Fatal(err)
	}
	delete(payload, "meter_id") // required
	kit.Send(kit.Event(events.TypeMeterReadingMissed, payload), riverstest.OnTopic(rivers.Rivers))
	dead := kit.DeadLetters()
	if len(dead) != 1 || dead[0].Class != rivers.ClassSchema {
		t.Fatalf("dead letters %+v, want one of class schema", dead)
	}
	if n := kit.Metric(rivers.MetricHandlerDuration, "river", "meter-reading-missed"); n != 0 {
		t.Errorf("the handler ran %v times, want 0", n)
	}
}

// exampleMeterReading is a valid meter.reading.v1, from contracts/examples/meter.reading.v1.json.
// Add the cases the service must get right beside it.
const exampleMeterReading = `{
  "meter_id": "MTR-000417",
  "transformer_id": "TX-0042",
  "feeder_id": "FDR-07",
  "read_at": "2025-03-01T10:15:00Z",
  "interval_s": 900,
  "energy_kwh_total": 18234.512,
  "demand_kw": 1.84,
  "voltage_v": 239.6
}`

func meterReadingExample(t testing.TB) events.MeterReading {
	t.Helper()
	var in events.MeterReading
	if err := json.Unmarshal([]byte(exampleMeterReading), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// sendMeterReading sends in as its producers do: on the rapids, keyed by meter_id.
func sendMeterReading(kit *riverstest.Kit, in events.MeterReading) {
	e := kit.Event(events.TypeMeterReading, in)
	e.PartitionKey = in.MeterID
	kit.Send(e, riverstest.OnTopic(rivers.Rapids))
}

func TestMeterReadingIsHandled(t *testing.T) {
	kit := newKit(t)
	in := meterReadingExample(t)
	sendMeterReading(kit, in)
	if n := kit.Metric(rivers.MetricHandlerDuration, "river", "meter-reading", "outcome", "ok"); n != 1 {
		t.Fatalf("%v meter.reading.v1 handled, want 1 (rejected by the river's rules: %v, dead-lettered: %v)",
			n, kit.Metric(rivers.MetricEventsRejected), len(kit.DeadLetters()))
	}
	// What it publishes for it is what meterReadingEstimatedFromMeterReading returns.
	t.Run("meter.reading.estimated.v1", func(t *testing.T) {
		got := kit.Published(events.TypeMeterReadingEstimated)
		want, ok := meterReadingEstimatedFromMeterReading(in)
		if !ok {
			if len(got) != 0 {
				t.Errorf("%d published, want none: meterReadingEstimatedFromMeterReading maps nothing", len(got))
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
		if got[0].PartitionKey != want.MeterID {
			t.Errorf("key %q, want meter_id %q", got[0].PartitionKey, want.MeterID)
		}
	})
	// What it publishes for it is what meterReadingAdjustedFromMeterReading returns.
	t.Run("meter.reading.adjusted.v1", func(t *testing.T) {
		got := kit.Published(events.TypeMeterReadingAdjusted)
		want, ok := meterReadingAdjustedFromMeterReading(in)
		if !ok {
			if len(got) != 0 {
				t.Errorf("%d published, want none: meterReadingAdjustedFromMeterReading maps nothing", len(got))
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
		if got[0].PartitionKey != want.MeterID {
			t.Errorf("key %q, want meter_id %q", got[0].PartitionKey, want.MeterID)
		}
	})
	// What it publishes for it is what billingPeriodFromMeterReading returns.
	t.Run("billing.period.v1", func(t *testing.T) {
		got := kit.Published(events.TypeBillingPeriod)
		want, ok := billingPeriodFromMeterReading(in)
		if !ok {
			if len(got) != 0 {
				t.Errorf("%d published, want none: billingPeriodFromMeterReading maps nothing", len(got))
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
		if got[0].PartitionKey != want.MeterID {
			t.Errorf("key %q, want meter_id %q", got[0].PartitionKey, want.MeterID)
		}
	})
}

// An event that breaks its schema never reaches the handler: the SDK
// dead-letters it (class "schema") and the partition moves on.
func TestMeterReadingBreakingItsSchemaIsDeadLettered(t *testing.T) {
	kit := newKit(t)
	var payload map[string]any
	if err := json.Unmarshal([]byte(exampleMeterReading), &payload); err != nil {
		t.Fatal(err)
	}
	delete(payload, "meter_id") // required
	kit.Send(kit.Event(events.TypeMeterReading, payload), riverstest.OnTopic(rivers.Rapids))
	dead := kit.DeadLetters()
	if len(dead) != 1 || dead[0].Class != rivers.ClassSchema {
		t.Fatalf("dead letters %+v, want one of class schema", dead)
	}
	if n := kit.Metric(rivers.MetricHandlerDuration, "river", "meter-reading"); n != 0 {
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
	for _, typ := range []string{events.TypeMeterReadingMissed, events.TypeMeterReading} {
		if !slices.Contains(reads, typ) {
			t.Errorf("heartbeat subscribes to %v, not to %s", reads, typ)
		}
	}
	for _, typ := range []string{events.TypeMeterReadingEstimated, events.TypeMeterReadingAdjusted, events.TypeBillingPeriod} {
		if !slices.Contains(hb.Publishes, typ) {
			t.Errorf("heartbeat publishes %v, not %s", hb.Publishes, typ)
		}
	}
}
