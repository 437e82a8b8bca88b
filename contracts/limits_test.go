package contracts_test

import (
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts"
)

// TestAttributeLimits: every attribute at its limit decodes; one byte past
// it fails binary and structured decoding and encoding with ErrTooLarge
// naming the attribute. 200 readings with a 120 KB ce_id and ce_source
// used to take a dev process from 387 MB to 1.4 GB.
func TestAttributeLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, c := range []struct {
		attr string
		max  int
		set  func(e *contracts.Event, v string)
	}{
		{"id", contracts.MaxIDBytes, func(e *contracts.Event, v string) { e.ID = v }},
		{"source", contracts.MaxSourceBytes, func(e *contracts.Event, v string) { e.Source = "/" + v[1:] }},
		{"type", contracts.MaxTypeBytes, func(e *contracts.Event, v string) { e.Type = v }},
		{"subject", contracts.MaxAttributeBytes, func(e *contracts.Event, v string) { e.Subject = v }},
		{"dataschema", contracts.MaxAttributeBytes, func(e *contracts.Event, v string) { e.DataSchema = v }},
		{"causationid", contracts.MaxAttributeBytes, func(e *contracts.Event, v string) { e.CausationID = v }},
		{"correlationid", contracts.MaxAttributeBytes, func(e *contracts.Event, v string) { e.CorrelationID = v }},
		{"partitionkey", contracts.MaxAttributeBytes, func(e *contracts.Event, v string) { e.PartitionKey = v }},
		{"participants", contracts.MaxAttributeBytes, func(e *contracts.Event, v string) { e.Participants = []string{v} }},
		{"participants", contracts.MaxParticipantsBytes, func(e *contracts.Event, v string) {
			e.Participants = nil
			for len(v) > 0 {
				n := min(len(v), 100)
				e.Participants = append(e.Participants, v[:n])
				v = v[n:]
				if len(v) > 0 {
					v = v[1:] // the comma between
				}
			}
		}},
	} {
		ok := sampleEvent(t)
		c.set(&ok, long(c.max))
		m, err := contracts.EncodeBinary(ok)
		if err != nil {
			t.Fatalf("%s at its limit %d: encode: %v", c.attr, c.max, err)
		}
		if _, err := contracts.DecodeBinary(m); err != nil {
			t.Fatalf("%s at its limit %d: decode: %v", c.attr, c.max, err)
		}

		over := sampleEvent(t)
		c.set(&over, long(c.max+1))
		if _, err := contracts.EncodeBinary(over); err == nil {
			t.Errorf("%s of %d bytes encoded", c.attr, c.max+1)
		} else {
			wantDecodeError(t, err, contracts.ErrTooLarge, c.attr)
		}
		// the same bytes written by a producer that does not check
		bad := m
		bad.Headers = append([]contracts.Header(nil), m.Headers...)
		switch c.attr {
		case "partitionkey":
			bad.Key = []byte(long(c.max + 1))
		default:
			for i, h := range bad.Headers {
				if h.Key == "ce_"+c.attr {
					v := string(h.Value)
					if c.max == contracts.MaxParticipantsBytes {
						v += ",b"
					} else {
						v += "b"
					}
					bad.Headers[i].Value = []byte(v)
				}
			}
		}
		_, err = contracts.DecodeBinary(bad)
		wantDecodeError(t, err, contracts.ErrTooLarge, c.attr)
	}
	js := []byte(`{"specversion":"1.0","id":"` + long(contracts.MaxIDBytes+1) + `","source":"/s","type":"a.b.v1","data":{}}`)
	_, err := contracts.UnmarshalStructured(js)
	wantDecodeError(t, err, contracts.ErrTooLarge, "id")

	m, err := contracts.EncodeBinary(sampleEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	for len(m.Headers) < contracts.MaxHeaders {
		m.Headers = append(m.Headers, contracts.Header{Key: "x-extra", Value: []byte("1")})
	}
	if _, err := contracts.DecodeBinary(m); err != nil {
		t.Fatalf("%d headers: %v", len(m.Headers), err)
	}
	m.Headers = append(m.Headers, contracts.Header{Key: "x-extra", Value: []byte("1")})
	_, err = contracts.DecodeBinary(m)
	wantDecodeError(t, err, contracts.ErrTooLarge, "headers")
}
