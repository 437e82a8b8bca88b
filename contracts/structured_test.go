package contracts_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts"
)

func TestStructuredRoundTrip(t *testing.T) {
	e := sampleEvent(t)
	b, err := contracts.MarshalStructured(e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(b, "\n\r\t") {
		t.Fatalf("structured form is not one line: %s", b)
	}
	got, err := contracts.UnmarshalStructured(b)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, e.Data); err != nil {
		t.Fatal(err)
	}
	e.Data = compact.Bytes() // the example file is indented; structured mode compacts
	if !sameEvent(e, got) {
		t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", got, e)
	}
	// The members are the CloudEvents JSON format's, extensions at top level.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"specversion": `"1.0"`, "id": `"` + e.ID + `"`, "source": `"/services/mqtt-gateway"`, "type": `"meter.reading.v1"`,
		"time": `"2025-03-01T10:15:00.123456789Z"`, "datacontenttype": `"application/json"`,
		"dataschema": `"https://watershed.dev/schemas/meter.reading.v1.json"`, "subject": `"MTR-000417"`,
		"expirytime": `"2025-03-02T10:15:00Z"`, "partitionkey": `"MTR-000417"`, "causationid": `"` + e.CausationID + `"`,
		"correlationid": `"` + e.CorrelationID + `"`, "hops": `2`,
		"participants": `"/services/meter-simulator,/services/mqtt-gateway"`, "data": string(e.Data),
	} {
		if string(members[k]) != want {
			t.Errorf("member %s = %s, want %s", k, members[k], want)
		}
	}
	if len(members) != 15 {
		t.Errorf("%d members, want 15", len(members))
	}
}

func TestMarshalStructuredEscapesLikeEncodingJSON(t *testing.T) {
	e := sampleEvent(t)
	e.Subject = `quote " backslash \ tab-free <html> & é 日本 ` + "\u2028\u2029"
	e.ID = "id-\xff-invalid-utf8" // not a valid attribute: refused
	if _, err := contracts.MarshalStructured(e); err == nil {
		t.Fatal("invalid UTF-8 in id was marshalled")
	}
	e.ID = "id-1"
	b, err := contracts.MarshalStructured(e)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("not JSON: %s", b)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m["subject"] != e.Subject {
		t.Fatalf("subject %q, want %q", m["subject"], e.Subject)
	}
	if !bytes.Contains(b, []byte(`\u2028\u2029`)) {
		t.Fatalf("U+2028/2029 not escaped: %s", b)
	}
}

func TestUnmarshalStructuredMalformed(t *testing.T) {
	const ok = `"specversion":"1.0","id":"1","source":"/services/s","type":"meter.reading.v1","data":{"a":1}`
	for _, tc := range []struct {
		name, doc string
		sentinel  error
		attr      string
		reason    string
	}{
		{"missing id", `{"specversion":"1.0","source":"/s","type":"t.v1"}`, contracts.ErrMissingAttribute, "id", ""},
		{"missing source", `{"specversion":"1.0","id":"1","type":"t.v1"}`, contracts.ErrMissingAttribute, "source", ""},
		{"missing type", `{"specversion":"1.0","id":"1","source":"/s"}`, contracts.ErrMissingAttribute, "type", ""},
		{"missing specversion", `{"id":"1","source":"/s","type":"t.v1"}`, contracts.ErrMissingAttribute, "specversion", ""},
		{"null id", `{"specversion":"1.0","id":null,"source":"/s","type":"t.v1"}`, contracts.ErrMissingAttribute, "id", ""},
		{"unknown specversion", `{"specversion":"0.3","id":"1","source":"/s","type":"t.v1"}`, contracts.ErrUnsupportedSpecVersion, "specversion", `"0.3"`},
		{"unknown member", `{` + ok + `,"region":"eu"}`, contracts.ErrInvalidAttribute, "region", "unknown member"},
		{"member names are case-sensitive", `{"ID":"2",` + ok + `}`, contracts.ErrInvalidAttribute, "ID", "unknown member"},
		{"data_base64 is not binary mode's", `{` + ok[:len(ok)-len(`,"data":{"a":1}`)] + `,"data_base64":"e30="}`, contracts.ErrInvalidAttribute, "data_base64", "unknown member"},
		{"duplicate member", `{` + ok + `,"id":"2"}`, contracts.ErrInvalidAttribute, "id", "more than once"},
		{"id is a number", `{"specversion":"1.0","id":17,"source":"/s","type":"t.v1"}`, contracts.ErrInvalidAttribute, "id", "want a JSON string, got number"},
		{"hops is a string", `{` + ok + `,"hops":"2"}`, contracts.ErrInvalidAttribute, "hops", "want a JSON int, got string"},
		{"hops is a fraction", `{` + ok + `,"hops":1.5}`, contracts.ErrInvalidAttribute, "hops", ""},
		{"negative hops", `{` + ok + `,"hops":-3}`, contracts.ErrInvalidAttribute, "hops", ""},
		{"participants is an array", `{` + ok + `,"participants":["/s"]}`, contracts.ErrInvalidAttribute, "participants", "got array"},
		{"unparsable time", `{` + ok + `,"time":"10:15"}`, contracts.ErrInvalidAttribute, "time", "RFC 3339"},
		{"unparsable expirytime", `{` + ok + `,"expirytime":"tomorrow"}`, contracts.ErrInvalidAttribute, "expirytime", "RFC 3339"},
		{"text content type", `{` + ok + `,"datacontenttype":"text/plain"}`, contracts.ErrInvalidAttribute, "datacontenttype", ""},
		{"trailing object", `{` + ok + `} {}`, contracts.ErrInvalidAttribute, "event", "trailing data"},
		{"trailing brace", `{` + ok + `}}`, contracts.ErrInvalidAttribute, "event", "trailing data"},
		{"trailing garbage", `{` + ok + `}x`, contracts.ErrInvalidAttribute, "event", "trailing data"},
		{"truncated", `{` + ok, contracts.ErrInvalidAttribute, "event", "malformed JSON"},
		{"truncated member", `{"id":`, contracts.ErrInvalidAttribute, "id", "malformed JSON"},
		{"an array", `[{` + ok + `}]`, contracts.ErrInvalidAttribute, "event", "not a JSON object"},
		{"a string", `"event"`, contracts.ErrInvalidAttribute, "event", "not a JSON object"},
		{"empty", ``, contracts.ErrInvalidAttribute, "event", "unexpected end of input"},
		{"not JSON", `id=1`, contracts.ErrInvalidAttribute, "event", "not a JSON object"},
		{"bad data", `{"specversion":"1.0","id":"1","source":"/s","type":"t.v1","data":{"a":}}`, contracts.ErrInvalidAttribute, "data", "malformed JSON"},
		{"control character", `{` + ok + `,"subject":"a\u0007b"}`, contracts.ErrInvalidAttribute, "subject", "control character"},
		{"over the default limit", `{` + ok + `,"subject":"` + strings.Repeat("s", contracts.DefaultMaxEventBytes) + `"}`, contracts.ErrTooLarge, "data", "limit 1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contracts.UnmarshalStructured([]byte(tc.doc))
			de := wantDecodeError(t, err, tc.sentinel, tc.attr)
			if !strings.Contains(de.Reason, tc.reason) {
				t.Fatalf("error %q: reason does not contain %q", err, tc.reason)
			}
		})
	}
}

func TestUnmarshalStructuredLimitAndDefaults(t *testing.T) {
	doc := []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t.v1","data":null}`)
	e, err := contracts.UnmarshalStructured(doc)
	if err != nil {
		t.Fatal(err)
	}
	if e.DataContentType != contracts.ContentTypeJSON || string(e.Data) != "null" || !e.Time.IsZero() {
		t.Fatalf("defaults: %+v", e)
	}
	_, err = contracts.Decoder{MaxEventBytes: len(doc) - 1}.UnmarshalStructured(doc)
	wantDecodeError(t, err, contracts.ErrTooLarge, "data")
	if _, err := (contracts.Decoder{MaxEventBytes: len(doc)}).UnmarshalStructured(doc); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	// No data at all is allowed in structured mode (binary mode needs a value).
	e, err = contracts.UnmarshalStructured([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t.v1"}`))
	if err != nil || e.Data != nil {
		t.Fatalf("no data: %+v, %v", e, err)
	}
	_, err = contracts.EncodeBinary(e)
	wantDecodeError(t, err, contracts.ErrInvalidData, "data")
}
