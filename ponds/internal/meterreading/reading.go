// Package meterreading decodes meter.reading.v1 payloads
// (contracts/events.MeterReading), the one event type both ponds store in
// typed form, and checks them against the rules of the type's JSON Schema
// (contracts/schemas/meter.reading.v1.json) without a schema engine: the
// ponds see every reading, and a compiled-schema check costs several times
// the rest of archiving one. A differential test holds the two to the same
// verdicts on the catalog's examples and on thousands of mutations of them.
package meterreading

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/jsonlite"
	"github.com/watershed-grid/watershed/contracts/events"
)

// Type is the CloudEvents type of a meter interval reading.
const Type = events.TypeMeterReading

// ErrInvalid is wrapped by every error of Decode: the payload is not a
// meter.reading.v1 its schema accepts. It is permanent.
var ErrInvalid = errors.New("invalid meter reading")

// Limits of the schema.
const (
	maxIDLength    = 128
	maxFlags       = 32
	maxFlagLength  = 64
	maxIntervalSec = 86400
)

// wire is the payload as decoded, with pointers and raw values where the
// schema cares whether a member is present, null or of another type.
type wire struct {
	MeterID        *string         `json:"meter_id"`
	TransformerID  *string         `json:"transformer_id"`
	FeederID       *string         `json:"feeder_id"`
	ReadAt         *string         `json:"read_at"`
	IntervalS      *float64        `json:"interval_s"`
	EnergyKWhTotal *float64        `json:"energy_kwh_total"`
	DemandKW       *float64        `json:"demand_kw"`
	VoltageV       *float64        `json:"voltage_v"`
	Flags          json.RawMessage `json:"flags"` // absent: empty; null: "null"

	hasFlags bool     // flags is present
	flags    []string // flags, decoded: nil only when absent
}

// Decode decodes a reading and checks it against the schema's rules.
// extra reports members the schema does not declare: a tolerant reader
// accepts them (the schema is closed for producers), and only the raw JSON
// holds all of the payload then.
//
// Payloads as producers write them (the declared members once each, plain
// ASCII strings) take a fast path on a streaming tokenizer; anything else
// (escapes, unknown members, nulls, wrong types, malformed JSON) goes
// through encoding/json, which decides. Both feed the same checks.
func Decode(data []byte) (r events.MeterReading, extra bool, err error) {
	w, ok := scan(data)
	if !ok {
		if w, extra, err = unmarshal(data); err != nil {
			return events.MeterReading{}, false, err
		}
	}
	r, err = w.check()
	return r, extra, err
}

// unmarshal decodes with encoding/json.
func unmarshal(data []byte) (w wire, extra bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		if !strings.HasPrefix(err.Error(), "json: unknown field") {
			return wire{}, false, invalid("%v", err)
		}
		w = wire{}
		if err := json.Unmarshal(data, &w); err != nil {
			return wire{}, false, invalid("%v", err)
		}
		extra = true
	}
	if dec.More() {
		return wire{}, false, invalid("data after the payload")
	}
	if len(w.Flags) > 0 {
		w.hasFlags = true
		if err := json.Unmarshal(w.Flags, &w.flags); err != nil || w.flags == nil {
			return wire{}, false, invalid("flags must be an array of strings")
		}
	}
	return w, extra, nil
}

// scan is the fast path: ok only for a well-formed object of declared
// members, each once, strings plain printable ASCII, numbers JSON numbers.
func scan(data []byte) (w wire, ok bool) {
	it := jsonlite.Iterate(string(data))
	if !it.Next() || it.Kind() != jsonlite.Object {
		return wire{}, false
	}
	var seen uint16
	ok = true
	it.Object(func(key string, err error) bool {
		if err != nil || it.Err() != nil {
			ok = false
			return false
		}
		var bit uint16
		switch key {
		case "meter_id":
			bit, w.MeterID = 1<<0, plainString(it)
			ok = w.MeterID != nil
		case "transformer_id":
			bit, w.TransformerID = 1<<1, plainString(it)
			ok = w.TransformerID != nil
		case "feeder_id":
			bit, w.FeederID = 1<<2, plainString(it)
			ok = w.FeederID != nil
		case "read_at":
			bit, w.ReadAt = 1<<3, plainString(it)
			ok = w.ReadAt != nil
		case "interval_s":
			bit, w.IntervalS = 1<<4, number(it)
			ok = w.IntervalS != nil
		case "energy_kwh_total":
			bit, w.EnergyKWhTotal = 1<<5, number(it)
			ok = w.EnergyKWhTotal != nil
		case "demand_kw":
			bit, w.DemandKW = 1<<6, number(it)
			ok = w.DemandKW != nil
		case "voltage_v":
			bit, w.VoltageV = 1<<7, number(it)
			ok = w.VoltageV != nil
		case "flags":
			bit, w.flags = 1<<8, plainStrings(it)
			w.hasFlags, ok = true, w.flags != nil
		default:
			ok = false // an undeclared member: encoding/json reports it
		}
		if seen&bit != 0 {
			ok = false // a member twice: encoding/json keeps the last
		}
		seen |= bit
		return ok
	})
	if !ok || it.Err() != nil || it.Next() || it.Err() != nil {
		return wire{}, false
	}
	return w, true
}

// plainString returns the current string if it is plain printable ASCII.
func plainString(it *jsonlite.Iterator) *string {
	if it.Kind() != jsonlite.String {
		return nil
	}
	s, err := it.String()
	if err != nil {
		return nil
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' || c == '"' {
			return nil
		}
	}
	return &s
}

func number(it *jsonlite.Iterator) *float64 {
	if it.Kind() != jsonlite.Number {
		return nil
	}
	f, err := it.Float()
	if err != nil {
		return nil
	}
	return &f
}

// plainStrings returns the current array of plain strings, non-nil, or nil.
func plainStrings(it *jsonlite.Iterator) []string {
	if it.Kind() != jsonlite.Array {
		return nil
	}
	out := []string{}
	ok := true
	it.Array(func(_ int, err error) bool {
		s := plainString(it)
		if err != nil || it.Err() != nil || s == nil {
			ok = false
			return false
		}
		out = append(out, *s)
		return true
	})
	if !ok || it.Err() != nil {
		return nil
	}
	return out
}

func (w *wire) check() (events.MeterReading, error) {
	var r events.MeterReading
	var err error
	if r.MeterID, err = id("meter_id", w.MeterID); err != nil {
		return r, err
	}
	if r.TransformerID, err = id("transformer_id", w.TransformerID); err != nil {
		return r, err
	}
	if r.FeederID, err = id("feeder_id", w.FeederID); err != nil {
		return r, err
	}
	if w.ReadAt == nil {
		return r, invalid("read_at is missing")
	}
	if r.ReadAt, err = parseDateTime(*w.ReadAt); err != nil {
		return r, invalid("read_at %q is not an RFC 3339 date-time", *w.ReadAt)
	}
	switch {
	case w.IntervalS == nil:
		return r, invalid("interval_s is missing")
	case *w.IntervalS != math.Trunc(*w.IntervalS) || *w.IntervalS < 1 || *w.IntervalS > maxIntervalSec:
		return r, invalid("interval_s must be an integer from 1 to %d", maxIntervalSec)
	case w.EnergyKWhTotal == nil:
		return r, invalid("energy_kwh_total is missing")
	case *w.EnergyKWhTotal < 0:
		return r, invalid("energy_kwh_total is negative")
	case w.DemandKW == nil:
		return r, invalid("demand_kw is missing")
	case w.VoltageV == nil:
		return r, invalid("voltage_v is missing")
	case *w.VoltageV < 0:
		return r, invalid("voltage_v is negative")
	}
	r.IntervalSeconds = int(*w.IntervalS)
	r.EnergyKWhTotal, r.DemandKW, r.VoltageVolts = *w.EnergyKWhTotal, *w.DemandKW, *w.VoltageV
	if w.hasFlags {
		r.Flags = w.flags
		if len(r.Flags) > maxFlags {
			return r, invalid("more than %d flags", maxFlags)
		}
		for _, f := range r.Flags {
			if n := utf8.RuneCountInString(f); n < 1 || n > maxFlagLength {
				return r, invalid("a flag must have 1 to %d characters", maxFlagLength)
			}
		}
	}
	return r, nil
}

func id(name string, v *string) (string, error) {
	if v == nil {
		return "", invalid("%s is missing", name)
	}
	if n := utf8.RuneCountInString(*v); n < 1 || n > maxIDLength {
		return "", invalid("%s must have 1 to %d characters", name, maxIDLength)
	}
	return *v, nil
}

// parseDateTime parses an RFC 3339 date-time as JSON Schema's format
// defines it: "T" and "Z" in either case, any offset.
func parseDateTime(s string) (time.Time, error) {
	if len(s) > 10 && (s[10] == 't') {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, errors.New("year out of range")
	}
	return t, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
