package contracts_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

// benchEvent is a meter reading as the gateway publishes it: required
// attributes, time, use-by, schema, key and compact data.
func benchEvent(b *testing.B) contracts.Event {
	e := sampleEvent(b)
	e.Subject, e.CausationID, e.CorrelationID, e.Hops, e.Participants = "", "", "", 0, nil
	e.Data = []byte(`{"meter_id":"MTR-000417","transformer_id":"TX-0042","feeder_id":"FDR-07","read_at":"2025-03-01T10:15:00Z","interval_s":900,"energy_kwh_total":18234.512,"demand_kw":1.84,"voltage_v":239.6}`)
	return e
}

func BenchmarkEncodeBinary(b *testing.B) {
	e := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.EncodeBinary(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBinary(b *testing.B) {
	m, err := contracts.EncodeBinary(benchEvent(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(m.Value)))
	for b.Loop() {
		if _, err := contracts.DecodeBinary(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBinaryLineage decodes a derived event: every lineage header set.
func BenchmarkDecodeBinaryLineage(b *testing.B) {
	m, err := contracts.EncodeBinary(sampleEvent(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.DecodeBinary(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalStructured(b *testing.B) {
	e := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.MarshalStructured(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalStructured(b *testing.B) {
	doc, err := contracts.MarshalStructured(benchEvent(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.UnmarshalStructured(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateMeterReading(b *testing.B) {
	c := catalog.Default()
	data := benchEvent(b).Data
	if err := c.Validate("meter.reading.v1", data); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate("meter.reading.v1", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateMeterReadingLibrary is what Validate cost for a reading
// before the typed validator: the JSON Schema library on the parsed payload.
func BenchmarkValidateMeterReadingLibrary(b *testing.B) {
	raw, err := os.ReadFile("schemas/meter.reading.v1.json")
	if err != nil {
		b.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource(catalog.BaseURL+"meter.reading.v1.json", doc); err != nil {
		b.Fatal(err)
	}
	s, err := comp.Compile(catalog.BaseURL + "meter.reading.v1.json")
	if err != nil {
		b.Fatal(err)
	}
	data := benchEvent(b).Data
	b.ReportAllocs()
	for b.Loop() {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMeterReading validates and decodes a reading in one pass.
func BenchmarkDecodeMeterReading(b *testing.B) {
	data := benchEvent(b).Data
	var m events.MeterReading
	b.ReportAllocs()
	for b.Loop() {
		if err := catalog.DecodeMeterReading(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateThenUnmarshalMeterReading is the two-pass way
// DecodeMeterReading replaces: Validate (the typed validator), then
// json.Unmarshal.
func BenchmarkValidateThenUnmarshalMeterReading(b *testing.B) {
	data := benchEvent(b).Data
	var m events.MeterReading
	b.ReportAllocs()
	for b.Loop() {
		if err := catalog.Default().Validate(events.TypeMeterReading, data); err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}
