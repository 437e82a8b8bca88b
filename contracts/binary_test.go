package contracts_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts"
)

func TestBinaryRoundTrip(t *testing.T) {
	e := sampleEvent(t)
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := contracts.DecodeBinary(m)
	if err != nil {
		t.Fatal(err)
	}
	if !sameEvent(e, got) {
		t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", got, e)
	}
}

func TestEncodeBinaryLayout(t *testing.T) {
	e := sampleEvent(t)
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ce_specversion":   "1.0",
		"ce_id":            e.ID,
		"ce_source":        "/services/mqtt-gateway",
		"ce_type":          "meter.reading.v1",
		"ce_time":          "2025-03-01T10:15:00.123456789Z",
		"ce_dataschema":    e.DataSchema,
		"ce_subject":       "MTR-000417",
		"ce_expirytime":    "2025-03-02T10:15:00Z",
		"ce_causationid":   e.CausationID,
		"ce_correlationid": e.CorrelationID,
		"ce_hops":          "2",
		"ce_participants":  "/services/meter-simulator,/services/mqtt-gateway",
		"content-type":     "application/json",
	}
	if len(m.Headers) != len(want) {
		t.Fatalf("%d headers, want %d: %v", len(m.Headers), len(want), m.Headers)
	}
	for k, v := range want {
		got, ok := contracts.HeaderValue(m.Headers, k)
		if !ok || string(got) != v {
			t.Errorf("header %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if string(m.Key) != "MTR-000417" || !bytes.Equal(m.Value, e.Data) {
		t.Fatalf("key %q value %q", m.Key, m.Value)
	}
	// Header values share one buffer, but appending to one must not
	// overwrite the next.
	id, _ := contracts.HeaderValue(m.Headers, "ce_id")
	_ = append(id, "XXXX"...)
	if src, _ := contracts.HeaderValue(m.Headers, "ce_source"); string(src) != "/services/mqtt-gateway" {
		t.Fatalf("appending to ce_id overwrote ce_source: %q", src)
	}

	// Optional attributes are left out, not sent empty; a missing key is nil.
	min := contracts.Event{ID: "1", Source: "/s", Type: "t.v1", SpecVersion: "1.0", Data: []byte(`{}`)}
	m, err = contracts.EncodeBinary(min)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, h := range m.Headers {
		keys = append(keys, h.Key)
	}
	if want := []string{"ce_specversion", "ce_id", "ce_source", "ce_type", "content-type"}; !slices.Equal(keys, want) || m.Key != nil {
		t.Fatalf("headers %v key %q, want %v and no key", keys, m.Key, want)
	}
}

func TestEncodeBinaryRefusesWhatWouldNotDecode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		change   func(e *contracts.Event)
		sentinel error
		attr     string
	}{
		{"no id", func(e *contracts.Event) { e.ID = "" }, contracts.ErrMissingAttribute, "id"},
		{"no source", func(e *contracts.Event) { e.Source = "" }, contracts.ErrMissingAttribute, "source"},
		{"no type", func(e *contracts.Event) { e.Type = "" }, contracts.ErrMissingAttribute, "type"},
		{"no specversion", func(e *contracts.Event) { e.SpecVersion = "" }, contracts.ErrMissingAttribute, "specversion"},
		{"old specversion", func(e *contracts.Event) { e.SpecVersion = "0.3" }, contracts.ErrUnsupportedSpecVersion, "specversion"},
		{"empty data", func(e *contracts.Event) { e.Data = nil }, contracts.ErrInvalidData, "data"},
		{"data not JSON", func(e *contracts.Event) { e.Data = []byte("{") }, contracts.ErrInvalidData, "data"},
		{"negative hops", func(e *contracts.Event) { e.Hops = -1 }, contracts.ErrInvalidAttribute, "hops"},
		{"too many hops", func(e *contracts.Event) { e.Hops = contracts.MaxHops + 1 }, contracts.ErrInvalidAttribute, "hops"},
		{"participant with a comma", func(e *contracts.Event) { e.Participants = []string{"/services/a,b"} }, contracts.ErrInvalidAttribute, "participants"},
		{"empty participant", func(e *contracts.Event) { e.Participants = []string{"/services/a", ""} }, contracts.ErrInvalidAttribute, "participants"},
		{"newline in subject", func(e *contracts.Event) { e.Subject = "a\nb" }, contracts.ErrInvalidAttribute, "subject"},
		{"time past year 9999", func(e *contracts.Event) { e.Time = e.Time.AddDate(8000, 0, 0) }, contracts.ErrInvalidAttribute, "time"},
		{"text content", func(e *contracts.Event) { e.DataContentType = "text/plain" }, contracts.ErrInvalidAttribute, "datacontenttype"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sampleEvent(t)
			tc.change(&e)
			_, err := contracts.EncodeBinary(e)
			wantDecodeError(t, err, tc.sentinel, tc.attr)
			_, err = contracts.MarshalStructured(e)
			if e.Data == nil { // structured mode allows an event without data
				if err != nil {
					t.Fatalf("MarshalStructured without data: %v", err)
				}
				return
			}
			wantDecodeError(t, err, tc.sentinel, tc.attr)
		})
	}
}

// message returns the binary form of the sample event with changes applied.
func message(t *testing.T, change func(m *contracts.Message)) contracts.Message {
	t.Helper()
	m, err := contracts.EncodeBinary(sampleEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	change(&m)
	return m
}

func set(key, value string) func(m *contracts.Message) {
	return func(m *contracts.Message) {
		for i := range m.Headers {
			if m.Headers[i].Key == key {
				m.Headers[i].Value = []byte(value)
				return
			}
		}
		m.Headers = append(m.Headers, contracts.Header{Key: key, Value: []byte(value)})
	}
}

func del(key string) func(m *contracts.Message) {
	return func(m *contracts.Message) {
		m.Headers = slices.DeleteFunc(m.Headers, func(h contracts.Header) bool { return h.Key == key })
	}
}

func dup(key, value string) func(m *contracts.Message) {
	return func(m *contracts.Message) {
		m.Headers = append(m.Headers, contracts.Header{Key: key, Value: []byte(value)})
	}
}

func TestDecodeBinaryMalformed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		change   func(m *contracts.Message)
		sentinel error
		attr     string
		reason   string // fragment of the reason, when it matters
	}{
		{"missing id", del("ce_id"), contracts.ErrMissingAttribute, "id", ""},
		{"empty id", set("ce_id", ""), contracts.ErrMissingAttribute, "id", ""},
		{"missing source", del("ce_source"), contracts.ErrMissingAttribute, "source", ""},
		{"missing type", del("ce_type"), contracts.ErrMissingAttribute, "type", ""},
		{"missing specversion", del("ce_specversion"), contracts.ErrMissingAttribute, "specversion", ""},
		{"unknown specversion", set("ce_specversion", "0.3"), contracts.ErrUnsupportedSpecVersion, "specversion", `"0.3", want "1.0"`},
		{"unparsable time", set("ce_time", "yesterday"), contracts.ErrInvalidAttribute, "time", `not an RFC 3339 timestamp: "yesterday"`},
		{"time without zone", set("ce_time", "2025-03-01T10:15:00"), contracts.ErrInvalidAttribute, "time", "RFC 3339"},
		{"time before year 0 in UTC", set("ce_time", "0000-01-01T00:00:00+01:00"), contracts.ErrInvalidAttribute, "time", "outside 0000-9999"},
		{"unparsable expirytime", set("ce_expirytime", "2025-13-01T00:00:00Z"), contracts.ErrInvalidAttribute, "expirytime", "RFC 3339"},
		{"negative hops", set("ce_hops", "-1"), contracts.ErrInvalidAttribute, "hops", `"-1"`},
		{"hops not a number", set("ce_hops", "two"), contracts.ErrInvalidAttribute, "hops", `"two"`},
		{"hops in exponent form", set("ce_hops", "1e3"), contracts.ErrInvalidAttribute, "hops", ""},
		{"hops too large", set("ce_hops", "99999999999999999999"), contracts.ErrInvalidAttribute, "hops", ""},
		{"duplicate type header", dup("ce_type", "meter.reading.v2"), contracts.ErrInvalidAttribute, "type", "more than once"},
		{"duplicate content-type", dup("content-type", "application/json"), contracts.ErrInvalidAttribute, "datacontenttype", "more than once"},
		{"value not JSON", func(m *contracts.Message) { m.Value = []byte(`{"meter_id":`) }, contracts.ErrInvalidData, "data", "not valid JSON"},
		{"value not JSON at all", func(m *contracts.Message) { m.Value = []byte("meter 17 reads 5 kWh") }, contracts.ErrInvalidData, "data", "not valid JSON"},
		{"empty value", func(m *contracts.Message) { m.Value = nil }, contracts.ErrInvalidData, "data", "empty value"},
		{"text content type", set("content-type", "text/plain"), contracts.ErrInvalidAttribute, "datacontenttype", `"text/plain"`},
		{"avro content type", set("content-type", "application/avro"), contracts.ErrInvalidAttribute, "datacontenttype", ""},
		{"structured-mode record", set("content-type", "application/cloudevents+json; charset=utf-8"), contracts.ErrInvalidAttribute, "datacontenttype", "structured-mode"},
		{"control character in source", set("ce_source", "/services/a\x1b[31m"), contracts.ErrInvalidAttribute, "source", "control character"},
		{"C1 control character in id", set("ce_id", "id\u0085"), contracts.ErrInvalidAttribute, "id", "control character"},
		{"invalid UTF-8 in type", set("ce_type", "meter.\xffreading.v1"), contracts.ErrInvalidAttribute, "type", "UTF-8"},
		{"empty participant", set("ce_participants", "/services/a,,/services/b"), contracts.ErrInvalidAttribute, "participants", ""},
		{"over the default limit", func(m *contracts.Message) {
			m.Value = []byte(`"` + strings.Repeat("x", contracts.DefaultMaxEventBytes) + `"`)
		}, contracts.ErrTooLarge, "data", "limit 1048576"},
		{"headers over the limit", dup("traceparent", strings.Repeat("0", contracts.DefaultMaxEventBytes)), contracts.ErrTooLarge, "data", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := message(t, tc.change)
			_, err := contracts.DecodeBinary(m)
			de := wantDecodeError(t, err, tc.sentinel, tc.attr)
			if !strings.Contains(de.Reason, tc.reason) || !strings.Contains(err.Error(), "cloudevent "+tc.attr) {
				t.Fatalf("error %q: reason does not contain %q", err, tc.reason)
			}
		})
	}
}

func TestDecoderLimit(t *testing.T) {
	m := message(t, func(*contracts.Message) {})
	size := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		size += len(h.Key) + len(h.Value)
	}
	if _, err := (contracts.Decoder{MaxEventBytes: size}).DecodeBinary(m); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := (contracts.Decoder{MaxEventBytes: size - 1}).DecodeBinary(m)
	de := wantDecodeError(t, err, contracts.ErrTooLarge, "data")
	if !strings.Contains(de.Reason, "limit") {
		t.Fatalf("reason %q", de.Reason)
	}
	big := message(t, func(m *contracts.Message) {
		m.Value = []byte(`"` + strings.Repeat("x", 2*contracts.DefaultMaxEventBytes) + `"`)
	})
	if _, err := (contracts.Decoder{MaxEventBytes: -1}).DecodeBinary(big); err != nil {
		t.Fatalf("no limit: %v", err)
	}
}

func TestDecodeBinaryLenient(t *testing.T) {
	// Headers that are not attributes are ignored, even when repeated.
	m := message(t, func(m *contracts.Message) {
		dup("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")(m)
		dup("ce_region", "eu-west")(m)
		dup("ce_region", "eu-north")(m)
		del("content-type")(m) // binary mode without content-type: JSON
	})
	e, err := contracts.DecodeBinary(m)
	if err != nil {
		t.Fatal(err)
	}
	if e.DataContentType != contracts.ContentTypeJSON {
		t.Fatalf("datacontenttype %q, want %q", e.DataContentType, contracts.ContentTypeJSON)
	}
	// JSON with a parameter or a +json suffix is JSON.
	for _, ct := range []string{"application/json; charset=utf-8", "application/vnd.watershed+json", "Application/JSON"} {
		if _, err := contracts.DecodeBinary(message(t, set("content-type", ct))); err != nil {
			t.Errorf("content-type %q: %v", ct, err)
		}
	}
	// A time with an offset is the same instant.
	e, err = contracts.DecodeBinary(message(t, set("ce_time", "2025-03-01T11:15:00.123456789+01:00")))
	if err != nil || !e.Time.Equal(sampleEvent(t).Time) {
		t.Fatalf("time with offset: %v %v", e.Time, err)
	}
}

func TestDecodedEventSharesNoMemory(t *testing.T) {
	m := message(t, func(*contracts.Message) {})
	e, err := contracts.DecodeBinary(m)
	if err != nil {
		t.Fatal(err)
	}
	want := e.Clone()
	for i := range m.Headers {
		for j := range m.Headers[i].Value {
			m.Headers[i].Value[j] = 'X'
		}
	}
	for j := range m.Key {
		m.Key[j] = 'X'
	}
	for j := range m.Value {
		m.Value[j] = ' '
	}
	if !sameEvent(e, want) {
		t.Fatalf("overwriting the message changed the decoded event: %+v", e)
	}
}

func TestHeaderValue(t *testing.T) {
	hs := []contracts.Header{{Key: "ce_type", Value: []byte("a.v1")}, {Key: "ce_type", Value: []byte("b.v1")}}
	if v, ok := contracts.HeaderValue(hs, "ce_type"); !ok || string(v) != "a.v1" {
		t.Fatalf("HeaderValue = %q, %v; want the first", v, ok)
	}
	if _, ok := contracts.HeaderValue(hs, "ce_id"); ok {
		t.Fatal("HeaderValue found an absent header")
	}
}

func TestDecodeErrorIsPermanentAndDescriptive(t *testing.T) {
	_, err := contracts.DecodeBinary(message(t, del("ce_id")))
	if got := err.Error(); got != "cloudevent id: missing required attribute" {
		t.Fatalf("Error() = %q", got)
	}
	_, err = contracts.DecodeBinary(message(t, set("ce_time", "soon")))
	if got := err.Error(); got != `cloudevent time: invalid attribute: not an RFC 3339 timestamp: "soon"` {
		t.Fatalf("Error() = %q", got)
	}
	if !errors.Is(err, contracts.ErrInvalidAttribute) || errors.Is(err, contracts.ErrMissingAttribute) {
		t.Fatal("sentinels")
	}
}
