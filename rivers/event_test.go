package rivers

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

func testEvent(t *testing.T, r *River, data string) Event {
	t.Helper()
	if err := r.err(); err != nil {
		t.Fatal(err)
	}
	env := &contracts.Event{ID: "id-1", Source: "/services/x", Type: "a.b.v1", SpecVersion: "1.0",
		Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), PartitionKey: "M1", Hops: 2,
		Participants: []string{"x", "y"}, Data: json.RawMessage(data)}
	return newEvent(env, r, newPayload(env.Data))
}

func TestEventAccessors(t *testing.T) {
	r := NewRiver("a.b.v1").Require("s", "f", "i", "b", "t", "ss", "loc").Interested("opt", "big", "frac", "exp")
	ev := testEvent(t, r, `{"s":"x\u00e9","f":1.5,"i":42,"b":true,"t":"2030-01-01T10:15:00+01:00",
		"ss":["a","b"],"loc":{"feeder_id":"F7","depth":{"n":3}},"big":1e3,"frac":2.5,"exp":null}`)
	if s, err := ev.String("s"); err != nil || s != "xé" {
		t.Errorf("String = %q, %v", s, err)
	}
	if f, err := ev.Float("f"); err != nil || f != 1.5 {
		t.Errorf("Float = %v, %v", f, err)
	}
	if i, err := ev.Int("i"); err != nil || i != 42 {
		t.Errorf("Int = %v, %v", i, err)
	}
	if i, err := ev.Int("big"); err != nil || i != 1000 {
		t.Errorf("Int(1e3) = %v, %v", i, err)
	}
	if _, err := ev.Int("frac"); !errors.Is(err, ErrKeyType) {
		t.Errorf("Int(2.5) error %v, want ErrKeyType", err)
	}
	if b, err := ev.Bool("b"); err != nil || !b {
		t.Errorf("Bool = %v, %v", b, err)
	}
	if tm, err := ev.Time("t"); err != nil || !tm.Equal(time.Date(2030, 1, 1, 9, 15, 0, 0, time.UTC)) {
		t.Errorf("Time = %v, %v", tm, err)
	}
	if ss, err := ev.Strings("ss"); err != nil || len(ss) != 2 || ss[1] != "b" {
		t.Errorf("Strings = %v, %v", ss, err)
	}
	if s, err := ev.String("loc.feeder_id"); err != nil || s != "F7" {
		t.Errorf("nested String = %q, %v", s, err)
	}
	if n, err := ev.Int("loc.depth.n"); err != nil || n != 3 {
		t.Errorf("deeper Int = %v, %v", n, err)
	}
	if raw, err := ev.Raw("loc"); err != nil || !json.Valid(raw) {
		t.Errorf("Raw = %s, %v", raw, err)
	}
	for key, want := range map[string]error{
		"customer_id": ErrUndeclaredKey, // not declared
		"opt":         ErrMissingKey,    // declared, absent
		"exp":         ErrMissingKey,    // declared, null
		"loc.nothing": ErrMissingKey,
	} {
		_, err := ev.String(key)
		var ke *KeyError
		if !errors.Is(err, want) || !IsPermanent(err) || !errors.As(err, &ke) || ke.Key != key || ke.River != "a.b.v1" {
			t.Errorf("String(%q) = %v, want a permanent %v naming the key and river", key, err, want)
		}
	}
	if _, err := ev.String("f"); !errors.Is(err, ErrKeyType) {
		t.Errorf("String of a number: %v, want ErrKeyType", err)
	}
	if _, err := ev.Float("s"); !errors.Is(err, ErrKeyType) {
		t.Errorf("Float of a string: %v, want ErrKeyType", err)
	}
	if _, err := ev.Time("s"); !errors.Is(err, ErrKeyType) {
		t.Errorf("Time of a non-timestamp: %v, want ErrKeyType", err)
	}
	if ev.ID() != "id-1" || ev.Key() != "M1" || ev.Hops() != 2 || ev.Type() != "a.b.v1" || ev.Source() != "/services/x" {
		t.Errorf("attributes: %s %s %d %s %s", ev.ID(), ev.Key(), ev.Hops(), ev.Type(), ev.Source())
	}
	ps := ev.Participants()
	ps[0] = "changed"
	if ev.Participants()[0] != "x" {
		t.Error("Participants returned the event's own slice")
	}
	env := ev.Envelope()
	env.Data[0] = '['
	if ev.Envelope().Data[0] != '{' {
		t.Error("Envelope returned the event's own data")
	}
}

func TestEventZeroValue(t *testing.T) {
	var ev Event
	if ev.ID() != "" || !ev.OccurredAt().IsZero() || ev.Hops() != 0 || ev.Participants() != nil {
		t.Error("zero Event has attributes")
	}
	if _, err := ev.String("x"); !errors.Is(err, ErrUndeclaredKey) {
		t.Errorf("zero Event String: %v", err)
	}
	var v struct{ X int }
	if err := ev.Decode(&v); !errors.Is(err, ErrUndeclaredKey) {
		t.Errorf("zero Event Decode: %v", err)
	}
}

func TestEventDecodeOnlyDeclaredKeys(t *testing.T) {
	type base struct {
		MeterID string `json:"meter_id"`
	}
	type reading struct {
		base
		Voltage float64 `json:"voltage_v"`
		Flags   []string
		skipped int //nolint:unused // unexported fields are not read
		Ignored int `json:"-"`
	}
	r := NewRiver("a.b.v1").Require("meter_id", "voltage_v").Interested("flags")
	ev := testEvent(t, r, `{"meter_id":"M1","voltage_v":231.5,"flags":["tamper"],"customer":"secret"}`)
	var got reading
	if err := ev.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.MeterID != "M1" || got.Voltage != 231.5 || len(got.Flags) != 1 {
		t.Errorf("decoded %+v", got)
	}
	var tooMuch struct {
		MeterID  string `json:"meter_id"`
		Customer string `json:"customer"`
	}
	err := ev.Decode(&tooMuch)
	var ke *KeyError
	if !errors.Is(err, ErrUndeclaredKey) || !errors.As(err, &ke) || ke.Key != "customer" || tooMuch.MeterID != "" {
		t.Errorf("Decode with an undeclared field: %v (%+v), want ErrUndeclaredKey naming customer and nothing read", err, tooMuch)
	}
	if err := ev.Decode(got); err == nil || !IsPermanent(err) {
		t.Errorf("Decode into a non-pointer: %v", err)
	}
	var wrong struct {
		MeterID int `json:"meter_id"`
	}
	if err := ev.Decode(&wrong); !errors.Is(err, ErrKeyType) {
		t.Errorf("Decode with a mistyped field: %v, want ErrKeyType", err)
	}
}

func TestEventConcurrentReads(t *testing.T) {
	r := NewRiver("a.b.v1").Require("a", "n.b")
	ev := testEvent(t, r, `{"a":"x","n":{"b":1}}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := ev.String("a"); err != nil {
					t.Error(err)
				}
				if _, err := ev.Int("n.b"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}
