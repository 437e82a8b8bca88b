package meterreading

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/ponds/internal/testenv"
)

const example = `{"meter_id":"MTR-000417","transformer_id":"TX-0042","feeder_id":"FDR-07","read_at":"2025-03-01T10:15:00Z","interval_s":900,"energy_kwh_total":18234.512,"demand_kw":1.84,"voltage_v":239.6,"flags":["tamper"]}`

func TestDecode(t *testing.T) {
	r, extra, err := Decode([]byte(example))
	if err != nil || extra {
		t.Fatalf("Decode(example) = extra %v, err %v", extra, err)
	}
	if r.MeterID != "MTR-000417" || r.TransformerID != "TX-0042" || r.FeederID != "FDR-07" || r.IntervalSeconds != 900 ||
		r.EnergyKWhTotal != 18234.512 || r.DemandKW != 1.84 || r.VoltageVolts != 239.6 || !slices.Equal(r.Flags, []string{"tamper"}) ||
		!r.ReadAt.Equal(time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC)) {
		t.Fatalf("Decode(example) = %+v", r)
	}
	withExtra := strings.Replace(example, `"flags"`, `"quality":"estimated","flags"`, 1)
	if r, extra, err := Decode([]byte(withExtra)); err != nil || !extra || r.MeterID != "MTR-000417" {
		t.Fatalf("Decode(extra member) = %+v, extra %v, err %v", r, extra, err)
	}
	if _, _, err := Decode([]byte(`{"meter_id":`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Decode(truncated) err = %v", err)
	}
}

// TestAgreesWithTheSchema holds Decode to the catalog's verdict (the
// compiled JSON Schema of meter.reading.v1) on the catalog's valid and
// invalid examples and on random mutations of them: a payload is accepted
// exactly when the schema accepts it, or breaks only additionalProperties,
// which a tolerant reader accepts.
func TestAgreesWithTheSchema(t *testing.T) {
	cat := catalog.Default()
	docs := examples(t)
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	check := func(doc map[string]any) {
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		schemaErr := cat.Validate(Type, data)
		wantOK := schemaErr == nil || onlyAdditional(schemaErr)
		_, extra, err := Decode(data)
		if (err == nil) != wantOK {
			t.Fatalf("payload %s:\n schema: %v\n Decode: %v", data, schemaErr, err)
		}
		if err == nil && extra != (schemaErr != nil) {
			t.Fatalf("payload %s: extra = %v, schema: %v", data, extra, schemaErr)
		}
		checked++
	}
	for _, d := range docs {
		check(d)
		for range testenv.Scale(400, 4) {
			check(mutate(rng, d))
		}
	}
	t.Logf("%d payloads, same verdicts", checked)
}

func onlyAdditional(err error) bool {
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, v := range ve.Violations {
		if !strings.HasPrefix(v.Message, "additional properties ") {
			return false
		}
	}
	return true
}

// examples returns the catalog's meter.reading.v1 example payloads, valid
// and invalid.
func examples(t *testing.T) []map[string]any {
	t.Helper()
	fsys := catalogExamples(t)
	var out []map[string]any
	names, _ := fs.Glob(fsys, "meter.reading.v1*.json")
	for _, n := range names {
		b, _ := fs.ReadFile(fsys, n)
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out = append(out, d)
	}
	b, err := fs.ReadFile(fsys, "invalid/meter.reading.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var invalid []struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &invalid); err != nil {
		t.Fatal(err)
	}
	for _, iv := range invalid {
		out = append(out, iv.Data)
	}
	if len(names) < 2 || len(invalid) < 2 {
		t.Fatalf("too few examples: %d valid, %d invalid", len(names), len(invalid))
	}
	return out
}

// mutate returns a copy of d with one to three random changes of the kinds
// a producer bug makes: a member dropped, nulled, retyped, out of range,
// too long, or added.
func mutate(rng *rand.Rand, d map[string]any) map[string]any {
	m := maps.Clone(d)
	keys := slices.Sorted(maps.Keys(m))
	values := []any{nil, "", "x", strings.Repeat("é", 128), strings.Repeat("é", 129), -1, 0, 0.5, 1, 900, 900.0, 86400, 86401,
		-0.0001, 1e300, true, []any{}, []any{"power_fail"}, []any{""}, []any{1}, map[string]any{},
		"2025-03-01T10:15:00Z", "2025-03-01t10:15:00z", "2025-03-01T10:15:00.123+01:00", "2025-03-01 10:15:00", "2025-13-01T00:00:00Z",
		make([]any, 33)}
	for range 1 + rng.IntN(3) {
		k := keys[rng.IntN(len(keys))]
		switch rng.IntN(4) {
		case 0:
			delete(m, k)
		case 1:
			m["extra_"+fmt.Sprint(rng.IntN(3))] = values[rng.IntN(len(values))]
		default:
			m[k] = values[rng.IntN(len(values))]
		}
	}
	return m
}

// TestFastPathAgreesWithEncodingJSON: whatever the fast path accepts,
// encoding/json decodes to the same reading with no undeclared member, and
// the fast path accepts no malformed JSON. The inputs are the schema
// mutations and byte-level corruptions of the examples.
func TestFastPathAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var inputs [][]byte
	for _, d := range examples(t) {
		b, _ := json.Marshal(d)
		inputs = append(inputs, b, []byte(" \n"+string(b)+"\t "), []byte(strings.ReplaceAll(string(b), ",", " , ")))
		for range testenv.Scale(300, 2) {
			m, _ := json.Marshal(mutate(rng, d))
			inputs = append(inputs, m, corrupt(rng, b))
		}
	}
	inputs = append(inputs, []byte(`{"meter_id":"M\u0031","transformer_id":"T","feeder_id":"F","read_at":"2025-03-01T10:15:00Z","interval_s":900,"energy_kwh_total":1,"demand_kw":0,"voltage_v":1}`),
		[]byte(`{"meter_id":"M","meter_id":"N","transformer_id":"T","feeder_id":"F","read_at":"2025-03-01T10:15:00Z","interval_s":900,"energy_kwh_total":1,"demand_kw":0,"voltage_v":1}`),
		[]byte(`{"meter_id":"M","transformer_id":"T","feeder_id":"F","read_at":"2025-03-01T10:15:00Z","interval_s":900,"energy_kwh_total":1,"demand_kw":0,"voltage_v":1} {}`))
	fast := 0
	for _, in := range inputs {
		w, ok := scan(in)
		if !ok {
			continue
		}
		fast++
		if !json.Valid(in) {
			t.Fatalf("the fast path accepted malformed JSON %q", in)
		}
		w2, extra, err := unmarshal(in)
		if err != nil || extra {
			t.Fatalf("%s: fast path ok, encoding/json: extra %v, %v", in, extra, err)
		}
		r1, err1 := w.check()
		r2, err2 := w2.check()
		if !reflect.DeepEqual(r1, r2) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("%s:\n fast %+v %v\n json %+v %v", in, r1, err1, r2, err2)
		}
	}
	if fast < len(inputs)/10 {
		t.Fatalf("the fast path took only %d of %d inputs", fast, len(inputs))
	}
	t.Logf("%d inputs, %d on the fast path, all agree", len(inputs), fast)
}

// corrupt changes one to three bytes of b.
func corrupt(rng *rand.Rand, b []byte) []byte {
	out := slices.Clone(b)
	const alphabet = `{}[],:"\ 0123456789.-eEtrufalsnx`
	for range 1 + rng.IntN(3) {
		i := rng.IntN(len(out))
		switch rng.IntN(3) {
		case 0:
			out = slices.Delete(out, i, i+1)
		case 1:
			out = slices.Insert(out, i, alphabet[rng.IntN(len(alphabet))])
		default:
			out[i] = alphabet[rng.IntN(len(alphabet))]
		}
	}
	return out
}
