package catalog_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
)

// schemaMap returns a fresh decoded copy of a catalog schema to mutate.
func schemaMap(t *testing.T, typ string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(catalog.Default().Schema(typ), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func doc(t *testing.T, name string, m map[string]any) catalog.SchemaDoc {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return catalog.SchemaDoc{Name: name, JSON: b}
}

func props(m map[string]any) map[string]any { return m["properties"].(map[string]any) }
func prop(m map[string]any, name string) map[string]any {
	return props(m)[name].(map[string]any)
}

func TestCompatibleChanges(t *testing.T) {
	for _, tc := range []struct {
		name, typ string
		change    func(m map[string]any)
	}{
		{"add an optional property to a closed schema", "meter.reading.v1", func(m map[string]any) {
			props(m)["phase"] = map[string]any{"type": "string", "enum": []any{"L1", "L2", "L3"}, "description": "Supply phase."}
		}},
		{"widen integer to number", "meter.reading.v1", func(m map[string]any) { prop(m, "interval_s")["type"] = "number" }},
		{"widen a type to a union", "meter.reading.v1", func(m map[string]any) { prop(m, "demand_kw")["type"] = []any{"number", "string"} }},
		{"add an enum value", "usage.interval.v1", func(m map[string]any) { prop(m, "period")["enum"] = []any{"hour", "day", "week"} }},
		{"drop a maximum length", "meter.reading.v1", func(m map[string]any) { delete(prop(m, "meter_id"), "maxLength") }},
		{"loosen a minimum", "meter.reading.v1", func(m map[string]any) { prop(m, "voltage_v")["minimum"] = -1.0 }},
		{"raise maxItems", "meter.reading.v1", func(m map[string]any) { prop(m, "flags")["maxItems"] = 64.0 }},
		{"make a property optional", "meter.reading.v1", func(m map[string]any) {
			m["required"] = []any{"meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "voltage_v"}
		}},
		{"reword descriptions and examples", "meter.reading.v1", func(m map[string]any) {
			prop(m, "demand_kw")["description"] = "Mean active power, kW."
			prop(m, "demand_kw")["examples"] = []any{1.5}
			m["x-watershed"] = map[string]any{"channel": "rapids", "key": "meter_id", "owner": "grid-team"}
		}},
		{"annotate the Go struct (x-go-*)", "meter.reading.v1", func(m map[string]any) {
			m["x-go-name"] = "Reading"
			prop(m, "demand_kw")["x-go-name"] = "Demand"
			prop(m, "flags")["x-go-omit"] = "omitzero"
			prop(m, "flags")["items"].(map[string]any)["x-go-type"] = "string"
		}},
		{"open a closed schema", "meter.reading.v1", func(m map[string]any) { m["additionalProperties"] = true }},
		{"drop a format", "meter.reading.v1", func(m map[string]any) { delete(prop(m, "read_at"), "format") }},
		{"follow a local $ref", "meter.reading.v1", func(m map[string]any) {
			m["$defs"] = map[string]any{"id": map[string]any{"type": "string", "minLength": 1.0}}
			props(m)["meter_id"] = map[string]any{"$ref": "#/$defs/id", "description": "The meter."}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := schemaMap(t, tc.typ)
			nw := schemaMap(t, tc.typ)
			tc.change(nw)
			if err := catalog.CheckCompatibility([]catalog.SchemaDoc{doc(t, "1.json", old)}, doc(t, "2.json", nw)); err != nil {
				t.Fatalf("want compatible, got %v", err)
			}
		})
	}
}

func TestIncompatibleChanges(t *testing.T) {
	for _, tc := range []struct {
		name, typ  string
		change     func(m map[string]any)
		path, rule string
		says       string // a fragment of the message
	}{
		{"add a required property", "meter.reading.v1", func(m map[string]any) {
			props(m)["phase"] = map[string]any{"type": "string", "default": "L1", "description": "Supply phase."}
			m["required"] = append(m["required"].([]any), "phase")
		}, "/phase", catalog.RuleRequiredPropertyAdded, `required property "phase" was added: data written without it would be rejected (its default does not help`},
		{"make an optional property required", "meter.reading.v1", func(m map[string]any) {
			m["required"] = append(m["required"].([]any), "flags")
		}, "/flags", catalog.RuleRequiredPropertyAdded, `property "flags" became required`},
		{"remove a property from a closed schema", "meter.reading.v1", func(m map[string]any) {
			delete(props(m), "voltage_v")
			m["required"] = []any{"meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw"}
		}, "/voltage_v", catalog.RulePropertyRemoved, `property "voltage_v" was removed but the schema is closed`},
		{"narrow number to integer", "meter.reading.v1", func(m map[string]any) { prop(m, "demand_kw")["type"] = "integer" },
			"/demand_kw", catalog.RuleTypeNarrowed, "type narrowed from [number] to [integer]: data written as number would be rejected"},
		{"change a type", "meter.reading.v1", func(m map[string]any) { prop(m, "meter_id")["type"] = "integer" },
			"/meter_id", catalog.RuleTypeNarrowed, "data written as string would be rejected"},
		{"remove an enum value", "usage.interval.v1", func(m map[string]any) { prop(m, "period")["enum"] = []any{"hour"} },
			"/period", catalog.RuleEnumNarrowed, `enum lost ["day"]`},
		{"add an enum", "meter.reading.v1", func(m map[string]any) { prop(m, "feeder_id")["enum"] = []any{"FDR-07"} },
			"/feeder_id", catalog.RuleEnumNarrowed, "enum"},
		{"add a minimum", "meter.reading.v1", func(m map[string]any) { prop(m, "demand_kw")["minimum"] = 0.0 },
			"/demand_kw", catalog.RuleRangeNarrowed, "lower bound tightened from none to 0"},
		{"make a minimum exclusive", "meter.reading.v1", func(m map[string]any) {
			delete(prop(m, "voltage_v"), "minimum")
			prop(m, "voltage_v")["exclusiveMinimum"] = 0.0
		}, "/voltage_v", catalog.RuleRangeNarrowed, "from 0 to exclusive 0"},
		{"lower maxItems", "meter.reading.v1", func(m map[string]any) { prop(m, "flags")["maxItems"] = 8.0 },
			"/flags", catalog.RuleLengthNarrowed, "maxItems lowered from 32 to 8"},
		{"add a pattern to array items", "meter.reading.v1", func(m map[string]any) {
			prop(m, "flags")["items"].(map[string]any)["pattern"] = "^[a-z_]+$"
		}, "/flags/*", catalog.RulePatternChanged, "pattern ^[a-z_]+$ was added"},
		{"add a format", "meter.reading.v1", func(m map[string]any) { prop(m, "meter_id")["format"] = "uuid" },
			"/meter_id", catalog.RuleFormatChanged, "format uuid was added"},
		{"require unique items", "meter.reading.v1", func(m map[string]any) { prop(m, "flags")["uniqueItems"] = true },
			"/flags", catalog.RuleUniqueItemsAdded, "uniqueItems became true"},
		{"add an unsupported keyword", "meter.reading.v1", func(m map[string]any) {
			prop(m, "demand_kw")["multipleOf"] = 0.01
		}, "/demand_kw", catalog.RuleKeywordChanged, `keyword "multipleOf" was added or changed`},
		{"close an open schema", "meter.reading.v1", func(m map[string]any) { prop(m, "flags")["items"] = false },
			"/flags/*", catalog.RuleItemsNarrowed, "nothing is accepted"},
		{"tighten a nested closed object", "outage.suspected.v1", func(m map[string]any) {
			prop(m, "evidence")["properties"].(map[string]any)["window_s"].(map[string]any)["maximum"] = 3600.0
		}, "/evidence/window_s", catalog.RuleRangeNarrowed, "upper bound tightened from none to 3600"},
		{"change a local $ref target", "meter.reading.v1", func(m map[string]any) {
			m["$defs"] = map[string]any{"id": map[string]any{"type": "string", "minLength": 1.0, "maxLength": 16.0}}
			props(m)["meter_id"] = map[string]any{"$ref": "#/$defs/id"}
		}, "/meter_id", catalog.RuleLengthNarrowed, "maxLength lowered from 128 to 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := schemaMap(t, tc.typ)
			nw := schemaMap(t, tc.typ)
			tc.change(nw)
			err := catalog.CheckCompatibility([]catalog.SchemaDoc{doc(t, "1.json", old)}, doc(t, "2.json", nw))
			var ce *catalog.CompatibilityError
			if !errors.As(err, &ce) || !errors.Is(err, catalog.ErrIncompatible) {
				t.Fatalf("want a *CompatibilityError, got %v", err)
			}
			if len(ce.Issues) != 1 {
				t.Fatalf("want one issue, got %d:\n%v", len(ce.Issues), err)
			}
			is := ce.Issues[0]
			if is.Path != tc.path || is.Rule != tc.rule || is.Against != "1.json" || !strings.Contains(is.Message, tc.says) {
				t.Fatalf("issue %+v\nwant path %q rule %s message containing %q", is, tc.path, tc.rule, tc.says)
			}
			if msg := err.Error(); !strings.Contains(msg, "2.json is not BACKWARD_TRANSITIVE compatible") ||
				!strings.Contains(msg, "at '"+tc.path+"': "+tc.rule) {
				t.Fatalf("error text %q does not name the schema, property and rule", msg)
			}
		})
	}
}

func TestAddingAPropertyToAnOpenSchemaIsIncompatible(t *testing.T) {
	old := map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "string"}}}
	nw := map[string]any{"type": "object", "properties": map[string]any{
		"a": map[string]any{"type": "string"}, "b": map[string]any{"type": "integer"}}}
	err := catalog.CheckCompatibility([]catalog.SchemaDoc{doc(t, "old", old)}, doc(t, "new", nw))
	var ce *catalog.CompatibilityError
	if !errors.As(err, &ce) || len(ce.Issues) != 1 || ce.Issues[0].Rule != catalog.RulePropertyAddedToOpen || ce.Issues[0].Path != "/b" {
		t.Fatalf("want one %s at /b, got %v", catalog.RulePropertyAddedToOpen, err)
	}
	// Adding it with an unconstrained schema is fine: old data carried anything.
	props(nw)["b"] = map[string]any{"description": "anything"}
	if err := catalog.CheckCompatibility([]catalog.SchemaDoc{doc(t, "old", old)}, doc(t, "new", nw)); err != nil {
		t.Fatalf("unconstrained property on an open schema: %v", err)
	}
	// Closing the open schema is not.
	nw["additionalProperties"] = false
	err = catalog.CheckCompatibility([]catalog.SchemaDoc{doc(t, "old", old)}, doc(t, "new", nw))
	if !errors.As(err, &ce) || ce.Issues[0].Rule != catalog.RuleAdditionalNarrowed || ce.Issues[0].Path != "" {
		t.Fatalf("want %s, got %v", catalog.RuleAdditionalNarrowed, err)
	}
}

func TestCompatibilityIsCheckedAgainstEveryEarlierRevision(t *testing.T) {
	mk := func(values ...any) map[string]any {
		m := schemaMap(t, "usage.interval.v1")
		prop(m, "period")["enum"] = values
		return m
	}
	rev1 := doc(t, "rev1", mk("hour", "day", "week"))
	rev2 := doc(t, "rev2", mk("hour", "day"))
	rev3 := doc(t, "rev3", mk("hour", "day"))
	// rev3 is compatible with rev2 alone, but not with rev1.
	if err := catalog.CheckCompatibility([]catalog.SchemaDoc{rev2}, rev3); err != nil {
		t.Fatalf("rev3 against rev2: %v", err)
	}
	err := catalog.CheckCompatibility([]catalog.SchemaDoc{rev1, rev2}, rev3)
	var ce *catalog.CompatibilityError
	if !errors.As(err, &ce) || len(ce.Issues) != 1 || ce.Issues[0].Against != "rev1" || ce.Issues[0].Rule != catalog.RuleEnumNarrowed {
		t.Fatalf("want one ENUM_NARROWED against rev1, got %v", err)
	}
}

func TestCheckCompatibilityRejectsNonSchemas(t *testing.T) {
	good := catalog.SchemaDoc{Name: "good", JSON: catalog.Default().Schema("meter.reading.v1")}
	for _, bad := range []catalog.SchemaDoc{{Name: "bad", JSON: []byte(`{`)}, {Name: "bad", JSON: []byte(`[1]`)}} {
		if err := catalog.CheckCompatibility([]catalog.SchemaDoc{good}, bad); err == nil || !strings.Contains(err.Error(), "schema bad") || errors.Is(err, catalog.ErrIncompatible) {
			t.Errorf("new %s: got %v", bad.JSON, err)
		}
		if err := catalog.CheckCompatibility([]catalog.SchemaDoc{bad}, good); err == nil || !strings.Contains(err.Error(), "schema bad") {
			t.Errorf("old %s: got %v", bad.JSON, err)
		}
	}
}

func TestCatalogHistoryIsCompatible(t *testing.T) {
	if err := catalog.CheckHistory(contracts.SchemaFS()); err != nil {
		t.Fatalf("embedded schemas: %v", err)
	}
	if err := catalog.CheckHistory(os.DirFS("../schemas")); err != nil {
		t.Fatalf("schemas on disk: %v", err)
	}
}

func TestCheckHistory(t *testing.T) {
	rev := func(change func(m map[string]any)) *fstest.MapFile {
		m := schemaMap(t, "meter.reading.v1")
		if change != nil {
			change(m)
		}
		return &fstest.MapFile{Data: doc(t, "", m).JSON}
	}
	addOptional := func(m map[string]any) {
		props(m)["phase"] = map[string]any{"type": "string", "description": "Supply phase."}
	}
	narrow := func(m map[string]any) {
		addOptional(m)
		prop(m, "demand_kw")["type"] = "integer"
	}
	const h = "history/meter.reading.v1/"
	for _, tc := range []struct {
		name  string
		fsys  fstest.MapFS
		wants []string // fragments of the error; none means success
	}{
		{"one revision", fstest.MapFS{"meter.reading.v1.json": rev(nil), h + "1.json": rev(nil)}, nil},
		{"a compatible revision", fstest.MapFS{"meter.reading.v1.json": rev(addOptional), h + "1.json": rev(nil), h + "2.json": rev(addOptional)}, nil},
		{"an incompatible revision", fstest.MapFS{"meter.reading.v1.json": rev(narrow), h + "1.json": rev(nil), h + "2.json": rev(addOptional), h + "3.json": rev(narrow)},
			[]string{h + "3.json is not BACKWARD_TRANSITIVE compatible", "against " + h + "1.json at '/demand_kw': TYPE_NARROWED", "against " + h + "2.json at '/demand_kw': TYPE_NARROWED"}},
		{"an unrecorded change", fstest.MapFS{"meter.reading.v1.json": rev(addOptional), h + "1.json": rev(nil)},
			[]string{"meter.reading.v1.json differs from its latest revision " + h + "1.json: record the change as " + h + "2.json"}},
		{"no history", fstest.MapFS{"meter.reading.v1.json": rev(nil)}, []string{"no revision history: copy it to " + h + "1.json"}},
		{"a gap", fstest.MapFS{"meter.reading.v1.json": rev(nil), h + "1.json": rev(nil), h + "3.json": rev(nil)}, []string{"not numbered 1..2 without gaps"}},
		{"a badly named revision", fstest.MapFS{"meter.reading.v1.json": rev(nil), h + "first.json": rev(nil)}, []string{"first.json: revision files are named <n>.json"}},
		{"an orphan history", fstest.MapFS{"meter.reading.v1.json": rev(nil), h + "1.json": rev(nil), "history/gone.v1/1.json": rev(nil)}, []string{"history/gone.v1: history of a type with no gone.v1.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := catalog.CheckHistory(tc.fsys)
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error, got nil")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}
