package contracts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts"
)

// Headers travel through the fuzzer as one byte string: key NUL value NUL ...
func joinHeaders(hs []contracts.Header) []byte {
	var b bytes.Buffer
	for _, h := range hs {
		b.WriteString(h.Key)
		b.WriteByte(0)
		b.Write(h.Value)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func splitHeaders(b []byte) []contracts.Header {
	parts := bytes.Split(b, []byte{0})
	var hs []contracts.Header
	for i := 0; i+1 < len(parts); i += 2 {
		hs = append(hs, contracts.Header{Key: string(parts[i]), Value: parts[i+1]})
	}
	return hs
}

// seedEvents turns every example payload into a fully attributed event.
func seedEvents(f *testing.F) []contracts.Event {
	files, err := filepath.Glob("examples/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no examples: %v", err)
	}
	var out []contracts.Event
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		e := sampleEvent(f)
		e.Type = strings.TrimSuffix(filepath.Base(file), ".json")
		e.Data = data
		out = append(out, e)
	}
	return out
}

func FuzzDecodeBinary(f *testing.F) {
	for _, e := range seedEvents(f) {
		m, err := contracts.EncodeBinary(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Key, m.Value, joinHeaders(m.Headers))
	}
	good, _ := contracts.EncodeBinary(sampleEvent(f))
	hs := joinHeaders(good.Headers)
	f.Add([]byte(nil), good.Value, bytes.Replace(hs, []byte("ce_hops\x002"), []byte("ce_hops\x00-7"), 1))
	f.Add([]byte("k"), good.Value, bytes.Replace(hs, []byte("2025-03-01T10:15:00.123456789Z"), []byte("0000-01-01T00:30:00+01:00"), 1))
	f.Add([]byte("k"), []byte(`{"a":`), hs)
	f.Add([]byte("k"), []byte(``), hs)
	f.Add([]byte("k"), good.Value, append(hs, []byte("ce_type\x00x.v1\x00")...))
	f.Add([]byte("k"), good.Value, []byte("ce_specversion\x001.0\x00ce_id\x001\x00ce_source\x00/s\x00ce_type\x00t\x00ce_participants\x00a,,b\x00"))
	f.Add([]byte("k"), []byte(`1`), []byte("ce_specversion\x001.0\x00ce_id\x001\x00ce_source\x00/s\x00ce_type\x00t\x00content-type\x00application/cloudevents+json\x00"))

	small := contracts.Decoder{MaxEventBytes: 256}
	unlimited := contracts.Decoder{MaxEventBytes: -1}
	f.Fuzz(func(t *testing.T, key, value, headers []byte) {
		m := contracts.Message{Key: key, Value: value, Headers: splitHeaders(headers)}
		if _, err := small.DecodeBinary(m); err != nil {
			checkDecodeError(t, err)
		}
		e, err := contracts.DecodeBinary(m)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		m2, err := contracts.EncodeBinary(e)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v\n%+v", err, e)
		}
		e2, err := unlimited.DecodeBinary(m2)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%+v", err, m2)
		}
		if !sameEvent(e, e2) {
			t.Fatalf("binary round trip changed the event:\nfirst  %+v\nsecond %+v", e, e2)
		}
	})
}

func FuzzUnmarshalStructured(f *testing.F) {
	for _, e := range seedEvents(f) {
		b, err := contracts.MarshalStructured(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"specversion":"1.0","id":"1","source":"/s","type":"t.v1","data":null}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t.v1","hops":1.5}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t.v1","id":"2"}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t.v1"}}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"t.v1","participants":",","time":"2025-01-01T00:00:00-23:59"}`,
		`{"ID":"1"}`, `[]`, `"x"`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		e, err := contracts.UnmarshalStructured(doc)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		b, err := contracts.MarshalStructured(e)
		if err != nil {
			t.Fatalf("decoded event does not marshal: %v\n%+v", err, e)
		}
		e2, err := contracts.Decoder{MaxEventBytes: -1}.UnmarshalStructured(b)
		if err != nil {
			t.Fatalf("marshalled event does not decode: %v\n%s", err, b)
		}
		// Structured mode compacts the data; compare it compacted.
		if len(e.Data) > 0 {
			var c bytes.Buffer
			if err := json.Compact(&c, e.Data); err != nil {
				t.Fatalf("decoded data is not JSON: %v", err)
			}
			e.Data = c.Bytes()
		}
		if !sameEvent(e, e2) {
			t.Fatalf("structured round trip changed the event:\nfirst  %+v\nsecond %+v", e, e2)
		}
		b2, err := contracts.MarshalStructured(e2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("marshalling is not stable:\n%s\n%s (%v)", b, b2, err)
		}
	})
}

func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	var de *contracts.DecodeError
	if !errors.As(err, &de) || de.Attribute == "" || de.Err == nil {
		t.Fatalf("error %v (%T) is not a *DecodeError with an attribute", err, err)
	}
	for _, s := range []error{contracts.ErrMissingAttribute, contracts.ErrInvalidAttribute,
		contracts.ErrUnsupportedSpecVersion, contracts.ErrTooLarge, contracts.ErrInvalidData} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %v wraps no sentinel", err)
}
