package contracts_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// example reads a payload from contracts/examples.
func example(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("examples", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sampleEvent is a meter reading with every attribute set, as a gateway
// would publish it.
func sampleEvent(tb testing.TB) contracts.Event {
	tb.Helper()
	return contracts.Event{
		ID:              "01955a6f-0a11-7c3d-8e2f-1a2b3c4d5e6f",
		Source:          "/services/mqtt-gateway",
		Type:            "meter.reading.v1",
		SpecVersion:     contracts.SpecVersion,
		Time:            time.Date(2025, 3, 1, 10, 15, 0, 123456789, time.UTC),
		DataContentType: contracts.ContentTypeJSON,
		DataSchema:      "https://watershed.dev/schemas/meter.reading.v1.json",
		Subject:         "MTR-000417",
		ExpiryTime:      time.Date(2025, 3, 2, 10, 15, 0, 0, time.UTC),
		PartitionKey:    "MTR-000417",
		CausationID:     "01955a6e-ffff-7c3d-8e2f-1a2b3c4d5e6f",
		CorrelationID:   "01955a6e-eeee-7c3d-8e2f-1a2b3c4d5e6f",
		Hops:            2,
		Participants:    []string{"/services/meter-simulator", "/services/mqtt-gateway"},
		Data:            example(tb, "meter.reading.v1.json"),
	}
}

// wantDecodeError checks that err is a *DecodeError for attr wrapping sentinel.
func wantDecodeError(tb testing.TB, err, sentinel error, attr string) *contracts.DecodeError {
	tb.Helper()
	if err == nil {
		tb.Fatalf("want a %v error for %q, got nil", sentinel, attr)
	}
	var de *contracts.DecodeError
	if !errors.As(err, &de) {
		tb.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	if !errors.Is(err, sentinel) || de.Attribute != attr {
		tb.Fatalf("error %q: attribute %q, want %q wrapping %v", err, de.Attribute, attr, sentinel)
	}
	return de
}

// sameEvent reports whether two events carry the same attributes and data
// (times compared as instants).
func sameEvent(a, b contracts.Event) bool {
	if !a.Time.Equal(b.Time) || !a.ExpiryTime.Equal(b.ExpiryTime) || string(a.Data) != string(b.Data) ||
		len(a.Participants) != len(b.Participants) {
		return false
	}
	for i := range a.Participants {
		if a.Participants[i] != b.Participants[i] {
			return false
		}
	}
	a.Time, b.Time, a.ExpiryTime, b.ExpiryTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.Data, b.Data, a.Participants, b.Participants = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}
