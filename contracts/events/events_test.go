package events_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func schemaOf(t *testing.T, typ string) map[string]any {
	t.Helper()
	raw := catalog.Default().Schema(typ)
	if raw == nil {
		t.Fatalf("%s: no schema", typ)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTypesAreTheCatalog(t *testing.T) {
	got := events.Types()
	slices.Sort(got)
	if want := catalog.Default().Types(); !slices.Equal(got, want) {
		t.Fatalf("events.Types() = %v\ncatalog types  = %v", got, want)
	}
	if _, ok := events.NewPayload("nope.v1"); ok {
		t.Fatal("NewPayload of an unknown type succeeded")
	}
}

// TestGoTypesAgreeWithSchemas walks each payload struct beside its schema.
func TestGoTypesAgreeWithSchemas(t *testing.T) {
	for _, typ := range events.Types() {
		p, ok := events.NewPayload(typ)
		if !ok {
			t.Fatalf("%s: NewPayload failed", typ)
		}
		agree(t, typ, "", reflect.TypeOf(p).Elem(), schemaOf(t, typ))
	}
}

func agree(t *testing.T, typ, path string, gt reflect.Type, s map[string]any) {
	t.Helper()
	if ref, ok := s["$ref"].(string); ok {
		s = schemaOf(t, strings.TrimSuffix(ref, ".json"))
	}
	where := typ + " " + path
	if path == "" {
		where = typ
	}
	switch st, _ := s["type"].(string); {
	case s["type"] == nil:
		if gt != rawType {
			t.Errorf("%s: untyped in the schema, want json.RawMessage, got %v", where, gt)
		}
	case st == "string" && s["format"] == "date-time":
		if gt != timeType {
			t.Errorf("%s: date-time, want time.Time, got %v", where, gt)
		}
	case st == "string":
		if gt.Kind() != reflect.String {
			t.Errorf("%s: string, got %v", where, gt)
		}
	case st == "integer":
		if k := gt.Kind(); k != reflect.Int && k != reflect.Int64 {
			t.Errorf("%s: integer, want int, got %v", where, gt)
		}
	case st == "number":
		if gt.Kind() != reflect.Float64 {
			t.Errorf("%s: number, want float64, got %v", where, gt)
		}
	case st == "boolean":
		if gt.Kind() != reflect.Bool {
			t.Errorf("%s: boolean, got %v", where, gt)
		}
	case st == "array":
		if gt.Kind() != reflect.Slice {
			t.Errorf("%s: array, got %v", where, gt)
			return
		}
		agree(t, typ, path+"/*", gt.Elem(), s["items"].(map[string]any))
	case st == "object" && s["properties"] == nil:
		if gt.Kind() != reflect.Map || gt.Key().Kind() != reflect.String {
			t.Errorf("%s: object without properties, want a map, got %v", where, gt)
		}
	case st == "object":
		if gt.Kind() != reflect.Struct {
			t.Errorf("%s: object, want a struct, got %v", where, gt)
			return
		}
		agreeStruct(t, typ, path, gt, s)
	default:
		t.Errorf("%s: schema type %v not mapped to Go", where, s["type"])
	}
}

func agreeStruct(t *testing.T, typ, path string, gt reflect.Type, s map[string]any) {
	t.Helper()
	props := s["properties"].(map[string]any)
	required := map[string]bool{}
	list, _ := s["required"].([]any)
	for _, r := range list {
		required[r.(string)] = true
	}
	fields := map[string]bool{}
	for i := range gt.NumField() {
		f := gt.Field(i)
		tag, ok := f.Tag.Lookup("json")
		if !ok || tag == "-" {
			t.Errorf("%s %s.%s: no json tag", typ, gt.Name(), f.Name)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fields[name] = true
		p, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s %s/%s: Go field %s.%s is not a schema property", typ, path, name, gt.Name(), f.Name)
			continue
		}
		omitted := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		switch {
		case required[name] && omitted:
			t.Errorf("%s %s/%s: required, but %s.%s is %s", typ, path, name, gt.Name(), f.Name, opts)
		case !required[name] && !omitted:
			t.Errorf("%s %s/%s: optional, but %s.%s is never omitted (a zero value would be sent as a value)", typ, path, name, gt.Name(), f.Name)
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			if required[name] {
				t.Errorf("%s %s/%s: required, but a pointer", typ, path, name)
			}
			ft = ft.Elem()
		}
		agree(t, typ, path+"/"+name, ft, p)
	}
	for name := range props {
		if !fields[name] {
			t.Errorf("%s %s/%s: schema property has no field in %s", typ, path, name, gt.Name())
		}
	}
}

var exampleName = regexp.MustCompile(`^([a-z][a-z0-9.]*\.v[1-9][0-9]*)(?:\.([a-z0-9-]+))?\.json$`)

// TestExamplesRoundTripThroughGoTypes decodes every example strictly into
// its Go type, marshals it back, validates the result, and checks nothing
// was lost; together the examples of a type must set every property.
func TestExamplesRoundTripThroughGoTypes(t *testing.T) {
	files, err := filepath.Glob("../examples/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	c := catalog.Default()
	covered := map[string]map[string]bool{}
	for _, f := range files {
		m := exampleName.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			t.Fatalf("%s: not <type>[.<variant>].json", f)
		}
		typ := m[1]
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := events.NewPayload(typ)
		if !ok {
			t.Fatalf("%s: no Go type for %s", f, typ)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p); err != nil {
			t.Errorf("%s: strict decode into %T: %v", f, p, err)
			continue
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(typ, out); err != nil {
			t.Errorf("%s: the Go value marshals to an invalid payload: %v\n%s", f, err, out)
		}
		var a, b any
		_ = json.Unmarshal(raw, &a)
		_ = json.Unmarshal(out, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: round trip through %T changed it:\n in: %s\nout: %s", f, p, raw, out)
		}
		if covered[typ] == nil {
			covered[typ] = map[string]bool{}
		}
		paths(a, "", covered[typ])
	}
	for _, typ := range events.Types() {
		for _, want := range schemaPaths(t, schemaOf(t, typ), "") {
			if !covered[typ][want] {
				t.Errorf("%s: no example sets %s", typ, want)
			}
		}
	}
}

// paths records the JSON pointer of every value in v ("*" for array items).
func paths(v any, at string, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			into[at+"/"+k] = true
			paths(e, at+"/"+k, into)
		}
	case []any:
		for _, e := range x {
			paths(e, at+"/*", into)
		}
	}
}

// schemaPaths lists the property paths a schema declares, through arrays
// and nested objects (not into $refs, maps or untyped values).
func schemaPaths(t *testing.T, s map[string]any, at string) []string {
	var out []string
	if items, ok := s["items"].(map[string]any); ok {
		out = append(out, schemaPaths(t, items, at+"/*")...)
	}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		out = append(out, at+"/"+name)
		out = append(out, schemaPaths(t, p.(map[string]any), at+"/"+name)...)
	}
	return out
}

func TestEnumConstantsMatchSchemas(t *testing.T) {
	for _, tc := range []struct {
		typ, prop string
		consts    []string
	}{
		{events.TypeUsageInterval, "period", []string{events.PeriodHour, events.PeriodDay}},
		{events.TypeFeederLoad, "level", []string{events.LevelTransformer, events.LevelFeeder}},
		{events.TypeRetirement, "phase", []string{events.PhaseNotice, events.PhaseRetired, events.PhaseReinstated}},
		{events.TypeMeterCommand, "command", []string{events.CommandReadNow, events.CommandConnect, events.CommandDisconnect, events.CommandSetInterval, events.CommandDisplayMessage}},
		{events.TypeMeterCommandAck, "status", []string{events.AckAccepted, events.AckCompleted, events.AckFailed, events.AckRejected}},
		{events.TypeMonitorLagging, "state", []string{events.MonitorLaggingStateLagging, events.MonitorLaggingStateRecovered}},
	} {
		p := schemaOf(t, tc.typ)["properties"].(map[string]any)[tc.prop].(map[string]any)
		var enum []string
		for _, v := range p["enum"].([]any) {
			enum = append(enum, v.(string))
		}
		if !slices.Equal(enum, tc.consts) {
			t.Errorf("%s %s: schema enum %v, Go constants %v", tc.typ, tc.prop, enum, tc.consts)
		}
	}
}

func TestMarshalledGoValueValidates(t *testing.T) {
	v := 0.0 // a meaningful zero: no voltage during an outage
	load := events.FeederLoad{
		Level: events.LevelTransformer, ID: "TX-1", FeederID: "FDR-1",
		Start: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), End: time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC),
		LoadKW: 0, EnergyKWh: 0, VoltageMinVolts: &v, MetersReporting: 1, MetersExpected: 40,
	}
	raw, err := json.Marshal(load)
	if err != nil {
		t.Fatal(err)
	}
	if err := catalog.Default().Validate(events.TypeFeederLoad, raw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"voltage_min_v":0`) || strings.Contains(string(raw), "voltage_max_v") || strings.Contains(string(raw), "peak_load_kw") {
		t.Fatalf("optional pointers: %s", raw)
	}
	// A required slice left nil is caught by validation, not sent silently.
	if err := catalog.Default().ValidateValue(events.TypeOutageSuspected, events.OutageSuspected{}); err == nil {
		t.Fatal("a zero outage.suspected.v1 validated")
	}
}
