package catalog_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

// TestSchemasFollowTheCatalogConventions checks what Load does not: every
// property is described, every object with properties is closed, names are
// snake_case.
func TestSchemasFollowTheCatalogConventions(t *testing.T) {
	c := catalog.Default()
	for _, typ := range c.Types() {
		var root map[string]any
		if err := json.Unmarshal(c.Schema(typ), &root); err != nil {
			t.Fatal(err)
		}
		var walk func(path string, s map[string]any)
		walk = func(path string, s map[string]any) {
			if ps, ok := s["properties"].(map[string]any); ok {
				if s["additionalProperties"] != false {
					t.Errorf("%s %s: an object with properties must set additionalProperties: false", typ, path)
				}
				for name, p := range ps {
					pm := p.(map[string]any)
					if d, _ := pm["description"].(string); len(d) < 10 {
						t.Errorf("%s %s/%s: no description", typ, path, name)
					}
					if strings.ToLower(name) != name || strings.ContainsAny(name, "- ") {
						t.Errorf("%s %s/%s: property names are snake_case", typ, path, name)
					}
					walk(path+"/"+name, pm)
				}
			}
			if items, ok := s["items"].(map[string]any); ok {
				walk(path+"/*", items)
			}
		}
		walk("", root)
	}
}

func TestLoadRejectsSchemasThatBreakTheRules(t *testing.T) {
	valid := func(change func(m map[string]any)) *fstest.MapFile {
		var m map[string]any
		if err := json.Unmarshal(catalog.Default().Schema("system.clock.skew.v1"), &m); err != nil {
			t.Fatal(err)
		}
		if change != nil {
			change(m)
		}
		b, _ := json.Marshal(m)
		return &fstest.MapFile{Data: b}
	}
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"empty", fstest.MapFS{}, "no <type>.json schema files"},
		{"bad file name", fstest.MapFS{"ClockSkew.json": valid(nil)}, `file name "ClockSkew.json" is not`},
		{"wrong $id", fstest.MapFS{"system.clock.drift.v1.json": valid(nil)}, `"$id" is "https://watershed.dev/schemas/system.clock.skew.v1.json", want "https://watershed.dev/schemas/system.clock.drift.v1.json"`},
		{"open", fstest.MapFS{"system.clock.skew.v1.json": valid(func(m map[string]any) { delete(m, "additionalProperties") })}, `"additionalProperties" must be false`},
		{"old draft", fstest.MapFS{"system.clock.skew.v1.json": valid(func(m map[string]any) { m["$schema"] = "http://json-schema.org/draft-07/schema#" })}, `"$schema" is "http://json-schema.org/draft-07/schema#"`},
		{"no channel", fstest.MapFS{"system.clock.skew.v1.json": valid(func(m map[string]any) { delete(m, "x-watershed") })}, `must name the default "channel"`},
		{"key not a property", fstest.MapFS{"system.clock.skew.v1.json": valid(func(m map[string]any) {
			m["x-watershed"] = map[string]any{"channel": "rivers", "key": "nope"}
		})}, `key "nope" is not a property`},
		{"does not compile", fstest.MapFS{"system.clock.skew.v1.json": valid(func(m map[string]any) { m["required"] = "source" })}, "system.clock.skew.v1.json"},
		{"network $ref", fstest.MapFS{"system.clock.skew.v1.json": valid(func(m map[string]any) {
			m["properties"].(map[string]any)["source"] = map[string]any{"$ref": "https://example.com/x.json", "description": "remote"}
		})}, "system.clock.skew.v1.json"},
		{"not JSON", fstest.MapFS{"system.clock.skew.v1.json": {Data: []byte("{")}}, "not a JSON Schema object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := catalog.Load(tc.fsys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, %v; want an error containing %q", c, err, tc.want)
			}
		})
	}
	c, err := catalog.Load(fstest.MapFS{"system.clock.skew.v1.json": valid(nil)})
	if err != nil || len(c.Types()) != 1 || !c.Has("system.clock.skew.v1") {
		t.Fatalf("Load of one valid schema = %v, %v", c, err)
	}
}

func TestValidateErrors(t *testing.T) {
	c := catalog.Default()
	err := c.Validate("meter.reading.v9", []byte(`{}`))
	if !errors.Is(err, catalog.ErrUnknownType) || !strings.Contains(err.Error(), `"meter.reading.v9"`) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := c.Info("nope.v1"); !errors.Is(err, catalog.ErrUnknownType) {
		t.Fatalf("Info of an unknown type: %v", err)
	}
	if c.Schema("nope.v1") != nil || c.Has("nope.v1") {
		t.Fatal("Schema/Has of an unknown type")
	}
	for _, data := range []string{``, `{`, `{"meter_id":"m"} {}`, `nul`} {
		err := c.Validate("meter.reading.v1", []byte(data))
		var ve *catalog.ValidationError
		if !errors.As(err, &ve) || ve.Path() != "" || !strings.Contains(ve.Violations[0].Message, "not valid JSON") {
			t.Errorf("Validate(%q) = %v, want a not-valid-JSON *ValidationError", data, err)
		}
	}
	// Every violation is reported, sorted by path.
	err = c.Validate("meter.reading.v1", []byte(`{"meter_id":"","transformer_id":"t","feeder_id":"f","read_at":"yesterday",
		"interval_s":900,"energy_kwh_total":-1,"demand_kw":1,"voltage_v":230}`))
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	var paths []string
	for _, v := range ve.Violations {
		paths = append(paths, v.Path)
	}
	if strings.Join(paths, " ") != "/energy_kwh_total /meter_id /read_at" {
		t.Fatalf("violations at %v, want /energy_kwh_total /meter_id /read_at", paths)
	}
	// A schema is a copy: changing it does not change the catalog.
	s := c.Schema("meter.reading.v1")
	s[0] = 'x'
	if c.Schema("meter.reading.v1")[0] != '{' {
		t.Fatal("Schema returned the catalog's own bytes")
	}
}

func TestValidateValue(t *testing.T) {
	c := catalog.Default()
	good := map[string]any{"source": "/meters/MTR-1", "offset_s": 42.5, "threshold_s": 30, "samples": 4, "detected_at": "2025-03-01T10:00:00Z"}
	if err := c.ValidateValue("system.clock.skew.v1", good); err != nil {
		t.Fatal(err)
	}
	good["samples"] = 0
	var ve *catalog.ValidationError
	if err := c.ValidateValue("system.clock.skew.v1", good); !errors.As(err, &ve) || ve.Path() != "/samples" {
		t.Fatalf("samples 0: %v", err)
	}
	if err := c.ValidateValue("system.clock.skew.v1", func() {}); !errors.As(err, &ve) || !strings.Contains(err.Error(), "cannot marshal") {
		t.Fatalf("unmarshalable value: %v", err)
	}
	if err := c.ValidateValue("nope.v1", good); !errors.Is(err, catalog.ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
}
