package events_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/watershed-grid/watershed/contracts/events"
)

func TestReadingNamespace(t *testing.T) {
	want := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://watershed.dev/schemas/meter.reading.v1.json"))
	if uuid.UUID(events.ReadingNamespace) != want {
		t.Fatalf("ReadingNamespace = %s, want %s", uuid.UUID(events.ReadingNamespace), want)
	}
}

// TestReadingIDIsPinned pins known ids: they are part of the contract (a
// changed id makes every replayed reading a new event downstream).
func TestReadingIDIsPinned(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		meter string
		at    time.Time
		want  string
	}{
		{"MTR-000417", at, "d2497c8c-022e-58bb-8193-e9fc3aec2f69"},
		{"MTR-000417", at.In(paris), "d2497c8c-022e-58bb-8193-e9fc3aec2f69"},
		{"MTR-000418", at, ""},
		{"MTR-000417", at.Add(time.Nanosecond), ""},
	} {
		got := events.ReadingID(tc.meter, tc.at)
		ref := uuid.NewSHA1(uuid.UUID(events.ReadingNamespace), []byte(tc.meter+"\n"+tc.at.UTC().Format(time.RFC3339Nano)))
		if got != ref.String() {
			t.Errorf("ReadingID(%q, %v) = %s, want the UUIDv5 %s", tc.meter, tc.at, got, ref)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("ReadingID(%q, %v) = %s, pinned %s", tc.meter, tc.at, got, tc.want)
		}
	}
	if events.ReadingID("MTR-000417", at) == events.ReadingID("MTR-000418", at) ||
		events.ReadingID("MTR-000417", at) == events.ReadingID("MTR-000417", at.Add(time.Nanosecond)) {
		t.Fatal("distinct readings share an id")
	}
}

func TestAppendReadingIDDoesNotAllocate(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC)
	buf := make([]byte, 0, 36)
	if n := testing.AllocsPerRun(100, func() { buf = events.AppendReadingID(buf[:0], "MTR-000417", at) }); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

func ExampleReadingID() {
	at := time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC)
	fmt.Println(events.ReadingID("MTR-000417", at))
	// Output: d2497c8c-022e-58bb-8193-e9fc3aec2f69
}
