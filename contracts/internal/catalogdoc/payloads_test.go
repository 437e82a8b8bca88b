package catalogdoc_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/internal/catalogdoc"
)

// schemaWith is a valid schema of typ with the given properties (JSON
// members) and required list.
func schemaWith(typ, required, props string) string {
	return `{"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id": "https://watershed.dev/schemas/` + typ + `.json", "title": "T", "description": "What it is.",
		"x-watershed": {"channel": "rivers"}, "type": "object", "additionalProperties": false,
		"required": [` + required + `], "properties": {` + props + `}}`
}

func payloadsOf(t *testing.T, schemas map[string]string) (string, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for typ, s := range schemas {
		if !json.Valid([]byte(s)) {
			t.Fatalf("%s: not JSON: %s", typ, s)
		}
		fsys[typ+".json"] = &fstest.MapFile{Data: []byte(s)}
	}
	c, err := catalog.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	src, err := catalogdoc.Payloads(c)
	return strings.Join(strings.Fields(string(src)), " "), err
}

// TestPayloadsMapping pins the default Go mapping and what each
// annotation changes (whitespace folded).
func TestPayloadsMapping(t *testing.T) {
	got, err := payloadsOf(t, map[string]string{
		"usage.alert.v1": schemaWith("usage.alert.v1", `"meter_id", "at", "n", "on", "raw", "items"`, `
			"meter_id": {"type": "string", "description": "The meter."},
			"at": {"type": "string", "format": "date-time", "description": "When."},
			"n": {"type": "integer", "x-go-type": "int64", "description": "A count."},
			"on": {"type": "boolean", "description": "A switch."},
			"raw": {"description": "Anything."},
			"items": {"type": "array", "items": {"type": "object", "additionalProperties": false, "x-go-type": "AlertItem",
				"description": "One item.", "properties": {"load_kw": {"type": "number", "description": "A load."}}},
				"description": "The items."},
			"value_v": {"type": "number", "description": "A measurement."},
			"window_s": {"type": "number", "x-go-pointer": false, "description": "A length."},
			"code": {"type": "integer", "x-go-pointer": true, "description": "A code."},
			"since": {"type": "string", "format": "date-time", "description": "Since."},
			"labels": {"type": "object", "description": "A map."},
			"tags": {"type": "array", "items": {"type": "string"}, "description": "Tags."},
			"note": {"type": "string", "x-go-name": "Comment", "x-go-omit": "omitzero", "description": "A note."}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`import ( "encoding/json" "time" )`,
		"// UsageAlert is the payload of usage.alert.v1. // // What it is. type UsageAlert struct {",
		"// The meter. MeterID string `json:\"meter_id\"`",
		"At time.Time `json:\"at\"`",
		"N int64 `json:\"n\"`",
		"On bool `json:\"on\"`",
		"Raw json.RawMessage `json:\"raw\"`",
		"Items []AlertItem `json:\"items\"`",
		"ValueVolts *float64 `json:\"value_v,omitempty\"`",
		"WindowSeconds float64 `json:\"window_s,omitempty\"`",
		"Code *int `json:\"code,omitempty\"`",
		"Since time.Time `json:\"since,omitzero\"`",
		"Labels map[string]any `json:\"labels,omitempty\"`",
		"Tags []string `json:\"tags,omitempty\"`",
		"Comment string `json:\"note,omitzero\"`",
		"// AlertItem is one item. type AlertItem struct { // A load. LoadKW *float64 `json:\"load_kw,omitempty\"` }",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("generated payloads lack %q:\n%s", want, got)
		}
	}
}

// TestPayloadsRefuseWhatTheyCannotMap: the generator stops, naming the
// place and what it needs, rather than guess or ignore an annotation.
func TestPayloadsRefuseWhatTheyCannotMap(t *testing.T) {
	nested := func(goType, desc string) string {
		return `"p": {"type": "object", "additionalProperties": false, ` + goType + `"description": "Parameters.",
			"properties": {"a": {"type": "string", "description": "` + desc + `"}}}`
	}
	for _, tc := range []struct {
		name    string
		schemas map[string]string
		want    string
	}{
		{"unknown key", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", "", `"a": {"type": "string", "x-go-nmae": "B", "description": "A."}`)},
			`usage.alert.v1 at '/a': unknown annotation "x-go-nmae"; the generator knows:`},
		{"misplaced key", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", "", `"a": {"type": "array", "items": {"type": "string", "x-go-name": "B"}, "description": "A."}`)},
			`at '/a/*': "x-go-name" means nothing here`},
		{"unread key", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", "", `"a": {"type": "object", "additionalProperties": {"type": "string", "x-go-type": "int64"}, "description": "A."}`)},
			`at '/properties/a/additionalProperties': "x-go-type" is where the generator does not read it`},
		{"pointer to a required value", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", `"a"`, `"a": {"type": "number", "x-go-pointer": true, "description": "A."}`)},
			"x-go-pointer on a required property"},
		{"omit a required value", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", `"a"`, `"a": {"type": "number", "x-go-omit": "omitzero", "description": "A."}`)},
			"x-go-omit on a required property"},
		{"bad omit", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", "", `"a": {"type": "number", "x-go-omit": "always", "description": "A."}`)},
			`x-go-omit must be "omitempty" or "omitzero"`},
		{"unnamed nested object", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", "", nested("", "A."))},
			`usage.alert.v1 at '/p': a nested object needs "x-go-type"`},
		{"type on a string", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", "", `"a": {"type": "string", "x-go-type": "Name", "description": "A."}`)},
			"x-go-type on a string"},
		{"union", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", "", `"a": {"type": ["string", "number"], "description": "A."}`)},
			`type [string, number] has no Go mapping`},
		{"one name, two structs", map[string]string{
			"usage.alert.v1": schemaWith("usage.alert.v1", "", nested(`"x-go-type": "Params", `, "A.")),
			"usage.alarm.v1": schemaWith("usage.alarm.v1", "", nested(`"x-go-type": "Params", `, "Another A.")),
		}, "x-go-type Params: usage.alarm.v1 /p and usage.alert.v1 /p make different structs"},
		{"nested named as a payload", map[string]string{
			"usage.alert.v1": schemaWith("usage.alert.v1", "", nested(`"x-go-type": "UsageAlarm", `, "A.")),
			"usage.alarm.v1": schemaWith("usage.alarm.v1", "", `"a": {"type": "string", "description": "A."}`),
		}, "x-go-type UsageAlarm is the payload struct of usage.alarm.v1: use a $ref"},
		{"two fields, one name", map[string]string{"usage.alert.v1": schemaWith("usage.alert.v1", "",
			`"a_id": {"type": "string", "description": "A."}, "b": {"type": "string", "x-go-name": "AID", "description": "B."}`)},
			`properties "a_id" and "b" both make the field AID`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := payloadsOf(t, tc.schemas)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Payloads = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

// The same x-go-type in several schemas (CommandParameters) is declared
// once.
func TestPayloadsDeclareASharedStructOnce(t *testing.T) {
	p := `"p": {"type": "object", "additionalProperties": false, "x-go-type": "Params", "description": "Parameters.",
		"properties": {"a": {"type": "string", "description": "A."}}}`
	got, err := payloadsOf(t, map[string]string{
		"usage.alert.v1": schemaWith("usage.alert.v1", "", p),
		"usage.alarm.v1": schemaWith("usage.alarm.v1", "", p),
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(got, "type Params struct"); n != 1 {
		t.Fatalf("Params declared %d times:\n%s", n, got)
	}
	if !strings.Contains(got, "P Params `json:\"p,omitzero\"`") {
		t.Fatalf("an optional struct is omitzero:\n%s", got)
	}
}

func TestFieldName(t *testing.T) {
	for prop, want := range map[string]string{
		"meter_id": "MeterID", "energy_kwh_total": "EnergyKWhTotal", "demand_kw": "DemandKW",
		"interval_s": "IntervalSeconds", "voltage_min_v": "VoltageMinVolts", "pid": "Pid", "require_values": "RequireValues",
	} {
		if got := catalogdoc.FieldName(prop); got != want {
			t.Errorf("FieldName(%s) = %s, want %s", prop, got, want)
		}
	}
}
