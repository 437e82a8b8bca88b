package rivers

import (
	"encoding/json"
	"testing"
)

func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":"x,}\"y","b":[1,{"c":"]"}],"d":{"e":null}}`,
		` { "k\u00e9y" : true , "n" : -1.5e3 } `, `{"a":1,"a":2}`, `[1]`, `"s"`, `{"a":{"b":{"c":[[]]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // scanObject's input has been validated
		}
		var want map[string]json.RawMessage
		err := json.Unmarshal(data, &want)
		got := scanObject(data)
		if err != nil {
			if got != nil {
				t.Fatalf("scanObject(%s) = %v, want nil for a non-object", data, got)
			}
			return
		}
		if got == nil {
			t.Fatalf("scanObject(%s) = nil, want %d members", data, len(want))
		}
		for k, w := range want {
			raw, ok := find(got, k)
			if !ok {
				t.Fatalf("scanObject(%s): member %q missing", data, k)
			}
			var a, b any
			if json.Unmarshal(raw, &a) != nil || json.Unmarshal(w, &b) != nil {
				t.Fatalf("scanObject(%s): member %q = %s, want %s", data, k, raw, w)
			}
			ab, _ := json.Marshal(a)
			bb, _ := json.Marshal(b)
			if string(ab) != string(bb) {
				t.Fatalf("scanObject(%s): member %q = %s, want %s", data, k, raw, w)
			}
		}
		for _, m := range got {
			if _, ok := want[string(m.key)]; !ok {
				t.Fatalf("scanObject(%s): extra member %q", data, m.key)
			}
		}
	})
}
