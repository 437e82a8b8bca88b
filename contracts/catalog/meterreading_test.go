package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

// librarySchema compiles schemas/meter.reading.v1.json with the JSON Schema
// library exactly as catalog.Load does: the reference the typed validator
// is held to.
func librarySchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile("../schemas/meter.reading.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(catalog.BaseURL+"meter.reading.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(catalog.BaseURL + "meter.reading.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// libraryVerdict is the library's verdict on data. panicked reports that
// the library panicked instead of answering (it does for a number its
// big.Rat cannot hold compared with a minimum, e.g. 1e1000001).
func libraryVerdict(s *jsonschema.Schema, data []byte) (valid, panicked bool) {
	defer func() {
		if recover() != nil {
			valid, panicked = false, true
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return false, false
	}
	return s.Validate(doc) == nil, false
}

const reading = `{"meter_id":"MTR-000417","transformer_id":"TX-0042","feeder_id":"FDR-07","read_at":"2025-03-01T10:15:00Z","interval_s":900,"energy_kwh_total":18234.512,"demand_kw":1.84,"voltage_v":239.6}`

// withField returns reading with one property's raw JSON replaced (or
// removed when value is "").
func withField(name, value string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(reading), &m); err != nil {
		panic(err)
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range []string{"meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v", "flags"} {
		v := string(m[k])
		if k == name {
			v = value
		}
		if v == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteByte('}')
	return b.String()
}

// edgeCases are hand-made payloads at the borders of the schema and of
// JSON: each is checked against the library below and seeds the fuzzer.
func edgeCases() []string {
	out := []string{
		reading,
		" \t\r\n" + reading + " \n",
		reading + "x",
		reading + "{}",
		reading + "]",
		"",
		"null",
		"[]",
		"{}",
		`"x"`,
		"1e400",
		strings.Replace(reading, `{"meter_id"`, `{"me\u0074er_id"`, 1),
		strings.Replace(reading, `{"meter_id"`, `{"meter_i\u0064"`, 1),
		strings.Replace(reading, `{"meter_id"`, `{"METER_ID"`, 1),
		strings.Replace(reading, `{"meter_id":"MTR-000417"`, `{"meter_id":7,"meter_id":"MTR-000417"`, 1),
		strings.Replace(reading, `{"meter_id":"MTR-000417"`, `{"meter_id":"MTR-000417","meter_id":7`, 1),
		strings.Replace(reading, `"interval_s":900`, `"interval_s":"x","interval_s":900`, 1),
		strings.Replace(reading, `"read_at":"2025-03-01T10:15:00Z"`, `"read_at":"bad","read_at":"2025-03-01T10:15:00Z"`, 1),
		strings.Replace(reading, `{`, `{"flags":[[[[1]]]],`, 1),
		strings.Replace(reading, `{`, "{\"x\":1,", 1),
		strings.Replace(reading, `}`, ",}", 1),
		strings.Replace(reading, `:`, ` : `, -1),
		strings.Replace(reading, `,`, "\n,\t", -1),
	}
	for _, v := range []string{`""`, `"a"`, `"` + strings.Repeat("a", 128) + `"`, `"` + strings.Repeat("a", 129) + `"`,
		`"` + strings.Repeat("é", 128) + `"`, `"` + strings.Repeat("é", 129) + `"`, `"` + strings.Repeat("\xff", 128) + `"`,
		`"` + strings.Repeat("\xff", 129) + `"`, `"` + strings.Repeat(`\u00e9`, 128) + `"`, `"` + strings.Repeat(`\u00e9`, 129) + `"`,
		`"` + strings.Repeat(`\ud83d\ude00`, 128) + `"`, `"` + strings.Repeat(`\ud83d`, 129) + `"`, `"\ud83d\u0041"`,
		`"\u0000"`, `"a\tb"`, "\"a\tb\"", `"a\qb"`, `"\u12"`, `"\/"`, `null`, `1`, `true`, `["a"]`, `{}`} {
		out = append(out, withField("meter_id", v), withField("feeder_id", v))
	}
	for _, v := range []string{`900`, `900.0`, `9e2`, `9.0E+2`, `90000e-2`, `1`, `0`, `-0`, `0.5`, `86400`, `86401`, `86400.000`,
		`8.64e4`, `8.6401e4`, `-900`, `1e1000000`, `1e1000001`, `10e-1`, `1000000e-1000000`, `10000000e-1000001`,
		`1e99999999999999999999`, `0e99999999999999999999`, `0e999999999999`, `00`, `01`, `1.`, `.5`, `+1`, `1e`, `1e+`,
		`-`, `1.5e1`, `15e-1`, `"900"`, `null`, `9223372036854775808`, `100000`, `0.00001e5`, `0.000e9`} {
		out = append(out, withField("interval_s", v))
	}
	for _, v := range []string{`0`, `-0`, `-0.0e-5`, `-1e-400`, `1e400`, `-1e400`, `1e1000000`, `1e1000001`, `-1e1000001`,
		`0e1000001`, `1.5e-1000000`, `1.5e-999999`, `12345678901234567890.5e-1000005`, `1e99999999999999999999`,
		`0e99999999999999999999`, `"1"`, `true`, `null`, `[]`, `-`, `1e-5`} {
		out = append(out, withField("energy_kwh_total", v), withField("demand_kw", v), withField("voltage_v", v))
	}
	for _, v := range []string{`"2025-03-01T10:15:00Z"`, `"2025-03-01t10:15:00z"`, `"2025-03-01T10:15:00.123456789123Z"`,
		`"2025-03-01T10:15:00.Z"`, `"2025-03-01T10:15:00+01:00"`, `"2025-03-01T10:15:00-23:59"`, `"2025-03-01T10:15:00+24:00"`,
		`"2025-03-01T23:59:60Z"`, `"2025-03-01T23:59:60+00:00"`, `"2025-03-02T00:59:60+01:00"`, `"2025-03-01T22:59:60-01:00"`,
		`"2025-03-01T10:15:60Z"`, `"2025-03-01T10:15:61Z"`, `"2025-02-29T10:15:00Z"`, `"2024-02-29T10:15:00Z"`,
		`"2025-13-01T10:15:00Z"`, `"2025-00-01T10:15:00Z"`, `"2025-03-00T10:15:00Z"`, `"0000-01-01T00:00:00Z"`,
		`"+025-03-01T10:15:00Z"`, `"2025-03-01T+1:15:00Z"`, `"2025-03-01T-0:15:00Z"`, `"2025-03-01T1::5:00Z"`,
		`"2025-03-01T10:15:00+-1:00"`, `"2025-03-01T10:15:00++1:00"`, `"2025-03-01T10:15:00+0::00"`, `"2025-03-01T10:15:00+01:+0"`,
		`"2025-03-01T10:15:00+01:-0"`, `"2025-03-01 10:15:00Z"`, `"2025-03-01T10:15:00"`, `"2025-03-01T10:15Z"`,
		`"2025\u002d03-01T10:15:00Z"`, `"2025-03-01T10:15:00\u005a"`, `"2025-03-01T10:15:00Z\u0000"`, "\"2025-03-01T10:15:00\xffZ\"",
		`"2025-03-01T10:15:00.1\u00e9Z"`, `"2025-3-01T10:15:00Z"`, `"2025-03-1T10:15:00Z"`, `"2025-03-01T10:15:00+0100"`,
		`"2025-03-01T10:15:00.5+01:00"`, `"9999-12-31T23:59:60Z"`, `20250301`, `null`} {
		out = append(out, withField("read_at", v))
	}
	many := make([]string, 33)
	for i := range many {
		many[i] = `"f"`
	}
	for _, v := range []string{`[]`, `["power_fail"]`, `["power_fail","tamper"]`, `[""]`, `[1]`, `[null]`, `["a",null]`,
		`["` + strings.Repeat("x", 64) + `"]`, `["` + strings.Repeat("x", 65) + `"]`, `[` + strings.Join(many[:32], ",") + `]`,
		`[` + strings.Join(many, ",") + `]`, `null`, `{}`, `"power_fail"`, `[ "a" , "b" ]`, `["a",]`, `[,]`, `["\u0000"]`,
		`["\ud800"]`, `[{"a":[1,{"b":null}]}]`} {
		out = append(out, withField("flags", v))
	}
	return out
}

// seeds are the edge cases, the examples of meter.reading.v1 and the data
// of its invalid examples.
func seeds(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, s := range edgeCases() {
		out = append(out, []byte(s))
	}
	files, _ := filepath.Glob("../examples/meter.reading.v1*.json")
	if len(files) == 0 {
		t.Fatal("no meter.reading.v1 examples")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	raw, err := os.ReadFile("../examples/invalid/meter.reading.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []invalidCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		out = append(out, c.Data)
	}
	return out
}

// checkAgainstLibrary fails t when the typed validator's verdict on data
// differs from the library's, or when a valid payload decodes differently
// from encoding/json.
func checkAgainstLibrary(t *testing.T, lib *jsonschema.Schema, data []byte) {
	t.Helper()
	want, panicked := libraryVerdict(lib, data)
	err := catalog.Default().Validate(events.TypeMeterReading, data)
	var ve *catalog.ValidationError
	switch {
	case err != nil && !errors.As(err, &ve):
		t.Fatalf("Validate(%q) = %v, not a *ValidationError", data, err)
	case err != nil && (len(ve.Violations) == 0 || ve.Violations[0].Message == ""):
		t.Fatalf("Validate(%q) = %#v: no violation message", data, err)
	case panicked && err == nil:
		t.Fatalf("library panicked on %q; the typed validator accepted it, want a rejection", data)
	case !panicked && (err == nil) != want:
		t.Fatalf("Validate(%q) = %v; the JSON Schema library says valid=%v", data, err, want)
	}

	var got events.MeterReading
	derr := catalog.DecodeMeterReading(data, &got)
	if err != nil {
		if derr == nil || !errors.Is(derr, catalog.ErrInvalidPayload) {
			t.Fatalf("DecodeMeterReading(%q) = %v, want the validation error %v", data, derr, err)
		}
		return
	}
	var ref events.MeterReading
	jerr := json.Unmarshal(data, &ref)
	if (derr == nil) != (jerr == nil) {
		t.Fatalf("DecodeMeterReading(%q) = %v; json.Unmarshal = %v", data, derr, jerr)
	}
	if derr != nil {
		if !errors.Is(derr, catalog.ErrUndecodable) {
			t.Fatalf("DecodeMeterReading(%q) = %v, want ErrUndecodable", data, derr)
		}
		return
	}
	if !reflect.DeepEqual(got, ref) ||
		math.Float64bits(got.EnergyKWhTotal) != math.Float64bits(ref.EnergyKWhTotal) ||
		math.Float64bits(got.DemandKW) != math.Float64bits(ref.DemandKW) ||
		math.Float64bits(got.VoltageVolts) != math.Float64bits(ref.VoltageVolts) ||
		(got.Flags == nil) != (ref.Flags == nil) {
		t.Fatalf("DecodeMeterReading(%q)\n got %#v\nwant %#v (encoding/json)", data, got, ref)
	}
}

// deepCases sit at encoding/json's nesting limit (10,000): an earlier
// duplicate of flags, nested 10,000 deep in all, is valid JSON and is
// overwritten; 10,001 deep is a syntax error. They are not fuzz seeds:
// 20 KB inputs slow the fuzzer's minimization down to a crawl.
func deepCases() []string {
	return []string{
		strings.Replace(reading, `{`, `{"flags":`+strings.Repeat("[", 9999)+strings.Repeat("]", 9999)+`,"flags":[],`, 1),
		strings.Replace(reading, `{`, `{"flags":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`,"flags":[],`, 1),
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	}
}

func TestMeterReadingValidatorAgreesWithLibrary(t *testing.T) {
	lib := librarySchema(t)
	cases := seeds(t)
	for _, d := range deepCases() {
		cases = append(cases, []byte(d))
	}
	for i, data := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkAgainstLibrary(t, lib, data) })
	}
	// The deep cases do fall on both sides of the limit.
	deep := deepCases()
	if catalog.Default().Validate(events.TypeMeterReading, []byte(deep[0])) != nil ||
		catalog.Default().Validate(events.TypeMeterReading, []byte(deep[1])) == nil {
		t.Fatal("nesting limit: want 10,000 levels accepted and 10,001 refused")
	}
}

// FuzzMeterReadingValidator holds the typed meter.reading.v1 validator to
// the JSON Schema library's verdict on any bytes, and DecodeMeterReading to
// encoding/json's values.
func FuzzMeterReadingValidator(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	lib := librarySchema(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstLibrary(t, lib, data)
	})
}

func TestMeterReadingValidatorMessages(t *testing.T) {
	for _, tc := range []struct{ data, path, msg string }{
		{withField("meter_id", ""), "", "missing property 'meter_id'"},
		{withField("interval_s", `900.5`), "/interval_s", "got number, want integer"},
		{withField("interval_s", `86401`), "/interval_s", "maximum: got 86401, want 86400"},
		{withField("voltage_v", `"239"`), "/voltage_v", "got string, want number"},
		{withField("energy_kwh_total", `1e1000001`), "/energy_kwh_total", "out of range"},
		{withField("read_at", `"2025-03-01T10:15:60Z"`), "/read_at", "invalid leap second"},
		{withField("flags", `["a",""]`), "/flags/1", "minLength: got 0, want 1"},
		{strings.Replace(reading, "{", `{"status":"ok",`, 1), "", "additional properties 'status' not allowed"},
		{reading[:40], "", "not valid JSON"},
	} {
		err := catalog.Default().Validate(events.TypeMeterReading, []byte(tc.data))
		var ve *catalog.ValidationError
		if !errors.As(err, &ve) || ve.Path() != tc.path || !strings.Contains(ve.Violations[0].Message, tc.msg) {
			t.Errorf("Validate(%s) = %v, want %q at %q", tc.data, err, tc.msg, tc.path)
		}
	}
}

func TestValidateMeterReadingDoesNotAllocate(t *testing.T) {
	c := catalog.Default()
	for _, data := range []string{reading, withField("flags", `["power_fail","tamper"]`),
		withField("read_at", `"2025-03-01T10:15:00.123+01:00"`), withField("meter_id", `"M\u00e9"`)} {
		b := []byte(data)
		if n := testing.AllocsPerRun(100, func() {
			if err := c.Validate(events.TypeMeterReading, b); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Validate(%s): %v allocations, want 0", data, n)
		}
	}
}

func TestDecodeMeterReadingUndecodable(t *testing.T) {
	for _, data := range []string{withField("energy_kwh_total", "1e400"), withField("interval_s", "900.0"),
		withField("read_at", `"2025-03-01T10:15:00\u005a"`), withField("read_at", `"2025-03-01T23:59:60Z"`)} {
		if err := catalog.Default().Validate(events.TypeMeterReading, []byte(data)); err != nil {
			t.Fatalf("%s: %v, want valid", data, err)
		}
		var m events.MeterReading
		if err := catalog.DecodeMeterReading([]byte(data), &m); !errors.Is(err, catalog.ErrUndecodable) {
			t.Errorf("DecodeMeterReading(%s) = %v, want ErrUndecodable", data, err)
		}
	}
}

// TestTypedValidatorImplementsTheEmbeddedSchema fails when
// schemas/meter.reading.v1.json changes: the typed validator then no longer
// runs (Validate falls back to the library) until it and its pinned hash
// are updated together.
func TestTypedValidatorImplementsTheEmbeddedSchema(t *testing.T) {
	raw, err := os.ReadFile("../schemas/meter.reading.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if !catalog.TypedValidatorFor(raw) {
		t.Fatal("schemas/meter.reading.v1.json changed: update the typed validator (meterreading.go) and meterReadingSchemaSHA256")
	}
	if !catalog.Default().UsesTypedValidator(events.TypeMeterReading) {
		t.Fatal("the default catalog does not use the typed validator for meter.reading.v1")
	}
	// A catalog with another meter.reading.v1 schema validates it with the library.
	changed := bytes.Replace(raw, []byte(`"maxLength": 128,`), []byte(`"maxLength": 4,`), 1)
	c, err := catalog.Load(fstest.MapFS{"meter.reading.v1.json": {Data: changed}})
	if err != nil {
		t.Fatal(err)
	}
	if c.UsesTypedValidator(events.TypeMeterReading) {
		t.Fatal("typed validator used for a changed schema")
	}
	if err := c.Validate(events.TypeMeterReading, []byte(reading)); err == nil {
		t.Fatal("changed schema (meter_id maxLength 4) accepted MTR-000417")
	}
}

// TestLibraryPanicIsAViolation: for the types the library still validates,
// a number it cannot hold (it panics comparing it with a minimum) is a
// validation error, not a crash.
func TestLibraryPanicIsAViolation(t *testing.T) {
	raw, err := os.ReadFile("../examples/usage.interval.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Replace(raw, []byte(`"energy_kwh": 1.92`), []byte(`"energy_kwh": 1e1000001`), 1)
	if bytes.Equal(data, raw) {
		t.Fatal("example has no energy_kwh 1.92 to replace")
	}
	err = catalog.Default().Validate(events.TypeUsageInterval, data)
	if !errors.Is(err, catalog.ErrInvalidPayload) {
		t.Fatalf("Validate = %v, want ErrInvalidPayload", err)
	}
}
