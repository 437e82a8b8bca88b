package contracts_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
)

func TestNew(t *testing.T) {
	before := time.Now()
	e, err := contracts.New("/services/meter-simulator", "meter.reading.v1", map[string]any{"meter_id": "MTR-1"})
	if err != nil {
		t.Fatal(err)
	}
	if e.SpecVersion != "1.0" || e.Source != "/services/meter-simulator" || e.Type != "meter.reading.v1" ||
		e.DataContentType != contracts.ContentTypeJSON || string(e.Data) != `{"meter_id":"MTR-1"}` {
		t.Fatalf("New = %+v", e)
	}
	if e.Time.Before(before.Add(-time.Second)) || e.Time.After(time.Now().Add(time.Second)) || e.Time.Location() != time.UTC {
		t.Fatalf("time %v is not now in UTC", e.Time)
	}
	raw, err := contracts.New("/s", "t.v1", json.RawMessage(`[1,2]`))
	if err != nil || string(raw.Data) != `[1,2]` {
		t.Fatalf("raw JSON: %s, %v", raw.Data, err)
	}
	null, err := contracts.New("/s", "t.v1", nil)
	if err != nil || string(null.Data) != "null" {
		t.Fatalf("nil data: %s, %v", null.Data, err)
	}
	_, err = contracts.New("/s", "t.v1", []byte("not json"))
	wantDecodeError(t, err, contracts.ErrInvalidData, "data")
	_, err = contracts.New("/s", "t.v1", json.RawMessage("{"))
	wantDecodeError(t, err, contracts.ErrInvalidData, "data")
	if _, err := contracts.New("/s", "t.v1", func() {}); err == nil {
		t.Fatal("New marshalled a func")
	}
}

func TestNewIDIsATimeOrderedUUID(t *testing.T) {
	prev := ""
	for range 100 {
		id := contracts.NewID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			t.Fatalf("id %q: version %v, %v", id, u.Version(), err)
		}
		if id <= prev {
			t.Fatalf("ids not increasing: %q after %q", id, prev)
		}
		prev = id
	}
}

func TestDeriveLineage(t *testing.T) {
	origin, err := contracts.New("/services/meter-simulator", "meter.reading.v1", json.RawMessage(example(t, "meter.reading.v1.json")))
	if err != nil {
		t.Fatal(err)
	}
	origin.PartitionKey = "MTR-000417"
	snapshot := origin.Clone()

	missed, err := origin.Derive("/services/gap-detector", "meter.reading.missed.v1", map[string]any{"meter_id": "MTR-000417"})
	if err != nil {
		t.Fatal(err)
	}
	if missed.ID == origin.ID || missed.ID == "" {
		t.Fatalf("derived id %q, want a new one", missed.ID)
	}
	if missed.Source != "/services/gap-detector" || missed.Type != "meter.reading.missed.v1" || string(missed.Data) != `{"meter_id":"MTR-000417"}` {
		t.Fatalf("derived %+v", missed)
	}
	if missed.CausationID != origin.ID || missed.CorrelationID != origin.ID {
		t.Fatalf("causation %q correlation %q, want both %q (a chain starts at its origin)", missed.CausationID, missed.CorrelationID, origin.ID)
	}
	if missed.Hops != 1 || missed.PartitionKey != "MTR-000417" {
		t.Fatalf("hops %d key %q", missed.Hops, missed.PartitionKey)
	}
	if want := []string{"/services/meter-simulator", "/services/gap-detector"}; !slices.Equal(missed.Participants, want) {
		t.Fatalf("participants %v, want %v", missed.Participants, want)
	}

	outage, err := missed.Derive("/services/outage-detector", "outage.suspected.v1", map[string]any{"transformer_id": "TX-0042"})
	if err != nil {
		t.Fatal(err)
	}
	if outage.CausationID != missed.ID || outage.CorrelationID != origin.ID || outage.Hops != 2 {
		t.Fatalf("second derivation: causation %q correlation %q hops %d", outage.CausationID, outage.CorrelationID, outage.Hops)
	}
	if want := []string{"/services/meter-simulator", "/services/gap-detector", "/services/outage-detector"}; !slices.Equal(outage.Participants, want) {
		t.Fatalf("participants %v, want %v", outage.Participants, want)
	}
	// The same service deriving twice in a row is listed once.
	again, err := outage.Derive("/services/outage-detector", "outage.restored.v1", nil)
	if err != nil || len(again.Participants) != 3 || again.Hops != 3 {
		t.Fatalf("repeat participant: %v hops %d, %v", again.Participants, again.Hops, err)
	}

	// Nothing derived touched its cause.
	if !sameEvent(origin, snapshot) {
		t.Fatalf("origin changed: %+v", origin)
	}
	outage.Participants[0] = "changed"
	if missed.Participants[0] != "/services/meter-simulator" {
		t.Fatal("derived events share their participants slice")
	}
	// Derived events encode: nothing in the lineage breaks the wire format.
	if _, err := contracts.EncodeBinary(outage); err != nil {
		t.Fatal(err)
	}
	_, err = origin.Derive("/s", "t.v1", []byte("nope"))
	wantDecodeError(t, err, contracts.ErrInvalidData, "data")
}

func TestExpired(t *testing.T) {
	use := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	e := contracts.Event{ExpiryTime: use}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{use.Add(-time.Hour), false},
		{use, false}, // the use-by instant itself is still good
		{use.Add(time.Nanosecond), true},
		{use.Add(24 * time.Hour), true},
		{use.In(time.FixedZone("CET", 3600)).Add(time.Second), true},
	} {
		if got := e.Expired(tc.now); got != tc.want {
			t.Errorf("Expired(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
	if (contracts.Event{}).Expired(time.Now().AddDate(100, 0, 0)) {
		t.Fatal("an event without a use-by date expired")
	}
}

func TestClone(t *testing.T) {
	e := sampleEvent(t)
	c := e.Clone()
	c.Participants[0] = "x"
	c.Data[0] = '['
	if e.Participants[0] == "x" || e.Data[0] == '[' {
		t.Fatal("Clone shares slices with the original")
	}
}

func TestNewIdentifiedKeepsItsID(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC)
	id := events.ReadingID("MTR-000417", at)
	data := json.RawMessage(`{"meter_id":"MTR-000417"}`)
	e, err := contracts.New("/services/test", events.TypeMeterReading, contracts.Identified{ID: id, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != id || string(e.Data) != string(data) {
		t.Fatalf("New(Identified) = id %q data %s, want %q %s", e.ID, e.Data, id, data)
	}
	d, err := e.Derive("/services/other", events.TypeMeterReading, contracts.Identified{ID: id, Data: data})
	if err != nil || d.ID != id || d.CausationID != id {
		t.Fatalf("Derive(Identified) = %+v, %v: want id %q", d, err, id)
	}
	fresh, err := contracts.New("/services/test", events.TypeMeterReading, contracts.Identified{Data: data})
	if err != nil || fresh.ID == "" || fresh.ID == id {
		t.Fatalf("New(Identified without ID) id %q, %v: want a fresh id", fresh.ID, err)
	}
	if _, err := contracts.New("/services/test", events.TypeMeterReading, contracts.Identified{ID: id, Data: json.RawMessage(`{`)}); err == nil {
		t.Fatal("New accepted invalid JSON inside Identified")
	}
}
