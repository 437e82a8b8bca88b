package contracts_test

import (
	"testing"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
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
