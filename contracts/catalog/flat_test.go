package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

// flatTypes are the types with a table-driven typed validator.
var flatTypes = []string{events.TypeUsageInterval, events.TypeFeederLoad}

// compileLibrary compiles schemas/<typ>.json with the JSON Schema library as
// catalog.Load does.
func compileLibrary(t testing.TB, typ string) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile("../schemas/" + typ + ".json")
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
	if err := c.AddResource(catalog.BaseURL+typ+".json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(catalog.BaseURL + typ + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// replaceField returns the example doc with one property's raw JSON
// replaced ("" removes it).
func replaceField(doc []byte, name, value string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		panic(err)
	}
	if value == "" {
		delete(m, name)
	} else {
		m[name] = json.RawMessage(value)
	}
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

// flatSeeds are the examples of typ (valid and invalid) and every
// property of the main example set to edge values.
func flatSeeds(t testing.TB, typ string) [][]byte {
	t.Helper()
	main, err := os.ReadFile("../examples/" + typ + ".json")
	if err != nil {
		t.Fatal(err)
	}
	out := [][]byte{main}
	if raw, err := os.ReadFile("../examples/invalid/" + typ + ".json"); err == nil {
		var cases []invalidCase
		if err := json.Unmarshal(raw, &cases); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			out = append(out, c.Data)
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(main, &m); err != nil {
		t.Fatal(err)
	}
	values := []string{"", `null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `0.5`, `1.0`, `9e2`, `1e400`, `-1e-400`,
		`1e1000000`, `1e1000001`, `0e99999999999999999999`, `1e99999999999999999999`, `10e-1`, `""`, `"a"`,
		`"hour"`, `"day"`, `"Hour"`, `"h\u006fur"`, `"transformer"`, `"feeder"`, `"feed\u0065r"`, `"2025-03-01T10:00:00Z"`,
		`"2025-03-01T23:59:60Z"`, `"2025-03-01t10:00:00z"`, `"2025-02-30T10:00:00Z"`, `"\u0032025-03-01T10:00:00Z"`,
		`"` + strings.Repeat("x", 128) + `"`, `"` + strings.Repeat("x", 129) + `"`, "\"\xff\"", `[]`, `{}`}
	for name := range m {
		for _, v := range values {
			out = append(out, replaceField(main, name, v))
		}
	}
	out = append(out, replaceField(main, "unknown", `1`), append(bytes.Clone(main), 'x'), main[:len(main)/2])
	return out
}

func checkFlat(t *testing.T, typ string, lib *jsonschema.Schema, data []byte) {
	t.Helper()
	want, panicked := libraryVerdict(lib, data)
	err := catalog.Default().Validate(typ, data)
	var ve *catalog.ValidationError
	switch {
	case err != nil && !errors.As(err, &ve):
		t.Fatalf("%s: Validate(%q) = %v, not a *ValidationError", typ, data, err)
	case err != nil && (len(ve.Violations) == 0 || ve.Violations[0].Message == ""):
		t.Fatalf("%s: Validate(%q) = %#v: no violation message", typ, data, err)
	case panicked && err == nil:
		t.Fatalf("%s: library panicked on %q; the typed validator accepted it", typ, data)
	case !panicked && (err == nil) != want:
		t.Fatalf("%s: Validate(%q) = %v; the JSON Schema library says valid=%v", typ, data, err, want)
	}
}

func TestFlatValidatorsAgreeWithLibrary(t *testing.T) {
	for _, typ := range flatTypes {
		if !catalog.Default().UsesTypedValidator(typ) {
			t.Fatalf("%s: no typed validator in the default catalog", typ)
		}
		lib := compileLibrary(t, typ)
		for i, data := range flatSeeds(t, typ) {
			t.Run(fmt.Sprintf("%s/%d", typ, i), func(t *testing.T) { checkFlat(t, typ, lib, data) })
		}
	}
}

// FuzzTypedValidator holds the usage.interval.v1 and feeder.load.v1 typed
// validators (which picks one) to the JSON Schema library's verdict.
func FuzzTypedValidator(f *testing.F) {
	for w, typ := range flatTypes {
		for _, s := range flatSeeds(f, typ) {
			f.Add(uint8(w), s)
		}
	}
	libs := make([]*jsonschema.Schema, len(flatTypes))
	for i, typ := range flatTypes {
		libs[i] = compileLibrary(f, typ)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		w := int(which) % len(flatTypes)
		checkFlat(t, flatTypes[w], libs[w], data)
	})
}

func TestFlatValidatorsDoNotAllocate(t *testing.T) {
	for _, typ := range flatTypes {
		data, err := os.ReadFile("../examples/" + typ + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			if err := catalog.Default().Validate(typ, data); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations, want 0", typ, n)
		}
	}
}

// TestTypedValidatorsImplementTheEmbeddedSchemas fails when a schema with a
// typed validator changes: the validator then no longer runs (Validate
// falls back to the library) until it and its pinned hash are updated.
func TestTypedValidatorsImplementTheEmbeddedSchemas(t *testing.T) {
	for _, typ := range append([]string{events.TypeMeterReading}, flatTypes...) {
		raw, err := os.ReadFile("../schemas/" + typ + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := catalog.TypedSchemaSHA256(typ), sha256Hex(raw); got != want {
			t.Errorf("schemas/%s.json changed (SHA-256 %s, the typed validator implements %s): update the validator and its hash", typ, want, got)
		}
	}
}

func sha256Hex(raw []byte) string { return catalog.SHA256Hex(raw) }
