package archive

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
)

const examplesDir = "../../contracts/examples"

// TestTypedRoundTrip archives every example of the catalog (each river
// type in its typed layout) and reads it back: every payload comes back
// with the same members and values, and each file has one column per
// member.
func TestTypedRoundTrip(t *testing.T) {
	ctx := context.Background()
	tb := fileBucket(t)
	a, err := NewArchiver(tb.bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	if len(files) < 20 {
		t.Fatalf("%d examples in %s", len(files), examplesDir)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	want := map[string][]byte{}
	types := map[string]bool{}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		typ := exampleType(filepath.Base(f))
		e, err := contracts.New("/services/test", typ, json.RawMessage(data))
		if err != nil {
			t.Fatal(err)
		}
		e.Time = at
		if err := a.Add(ctx, Position{Topic: "rivers", Offset: int64(i)}, e); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want[e.ID] = data
		types[typ] = true
	}
	// A member the schema does not declare keeps the whole payload in data.
	var m map[string]any
	if err := json.Unmarshal(mustRead(t, filepath.Join(examplesDir, "usage.interval.v1.json")), &m); err != nil {
		t.Fatal(err)
	}
	m["tariff"] = "peak"
	extra, err := contracts.New("/services/test", events.TypeUsageInterval, m)
	if err != nil {
		t.Fatal(err)
	}
	extra.Time = at
	if err := a.Add(ctx, Position{Topic: "rivers", Offset: int64(len(files))}, extra); err != nil {
		t.Fatal(err)
	}
	want[extra.ID] = extra.Data
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}

	n := 0
	for r, err := range Rows(ctx, tb.bucket, Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !jsonEqualTimes(t, r.Event.Data, want[r.Event.ID]) {
			t.Errorf("%s: data %s\nwant %s", r.Event.Type, r.Event.Data, want[r.Event.ID])
		}
	}
	if n != len(want) {
		t.Fatalf("read %d rows, want %d", n, len(want))
	}
	for typ := range types {
		ts := typedSchemaOf(typ)
		if typ == events.TypeMeterReading {
			continue
		}
		if ts == nil {
			t.Fatalf("%s has no typed layout", typ)
		}
		objs, _ := List(ctx, tb.bucket, Filter{Type: typ})
		data, _ := tb.bucket.ReadAll(ctx, objs[0].Key)
		f, err := parquet.OpenFile(strings.NewReader(string(data)), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		columns := map[string]bool{}
		for _, c := range f.Schema().Fields() {
			columns[c.Name()] = true
		}
		for _, fld := range ts.fields {
			if !columns[fld.column] {
				t.Errorf("%s: no column %s", typ, fld.column)
			}
		}
	}
}

// TestColumnTypesAgree: a column name has one Parquet type in every file
// of every type, so a topic folder (or the whole pond) reads as one table
// in pyarrow and Spark. Integer widths may differ (interval_s is INT32 in
// readings, INT64 elsewhere): every reader widens them.
func TestColumnTypesAgree(t *testing.T) {
	seen := map[string]string{}
	where := map[string]string{}
	check := func(typ string, s *parquet.Schema) {
		for _, f := range s.Fields() {
			kind := f.Type().String()
			if f.Leaf() {
				kind = intWidth.ReplaceAllString(kind, "INT")
			} else {
				kind = "group:" + reflect.TypeOf(f).String()
				if f.Type().LogicalType() != nil {
					kind = "group:" + f.Type().LogicalType().String()
				}
			}
			if prev, ok := seen[f.Name()]; ok && prev != kind {
				t.Errorf("column %s is %s in %s but %s in %s", f.Name(), kind, typ, prev, where[f.Name()])
			}
			seen[f.Name()], where[f.Name()] = kind, typ
		}
	}
	check(events.TypeMeterReading, parquet.SchemaOf(readingRow{}))
	check("event", parquet.SchemaOf(eventRow{}))
	for _, typ := range events.Types() {
		if ts := typedSchemaOf(typ); ts != nil {
			check(typ, ts.schema)
		}
	}
	for _, reserved := range []string{TypeKey, LegacyTypeKey, DateKey} {
		if _, ok := seen[reserved]; ok && reserved != LegacyTypeKey {
			t.Errorf("a column is named like the partition key %s", reserved)
		}
	}
}

var intWidth = regexp.MustCompile(`INT\((32|64),true\)`)

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exampleType is the event type an example file is of:
// <type>.json or <type>.<variant>.json, the type ending in .v<N>.
func exampleType(name string) string {
	parts := strings.Split(strings.TrimSuffix(name, ".json"), ".")
	for i := len(parts) - 1; i >= 0; i-- {
		if len(parts[i]) > 1 && parts[i][0] == 'v' && strings.Trim(parts[i][1:], "0123456789") == "" {
			return strings.Join(parts[:i+1], ".")
		}
	}
	return name
}

// jsonEqualTimes compares two JSON payloads, RFC 3339 strings by instant
// (the pond keeps times in UTC at microsecond precision).
func jsonEqualTimes(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(normTimes(x), normTimes(y))
}

func normTimes(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normTimes(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normTimes(e)
		}
	case string:
		if ts, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return ts.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
		}
	}
	return v
}
