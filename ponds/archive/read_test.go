package archive

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
)

// TestRoundTrip archives events with every attribute set and reads them
// back: the envelope survives (times at microsecond precision), a reading's
// payload is rebuilt from its columns, and a payload with members the
// columns do not hold comes back as received.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	tb := fileBucket(t)
	a, err := NewArchiver(tb.bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 10, 15, 0, 123456789, time.UTC)
	reading := events.MeterReading{MeterID: "MTR-1", TransformerID: "TX-1", FeederID: "FDR-1", ReadAt: at.Truncate(time.Minute),
		IntervalSeconds: 900, EnergyKWhTotal: 18234.512, DemandKW: -0.75, VoltageVolts: 229.9, Flags: []string{"reverse_flow", "tamper"}}
	full, _ := contracts.New("/services/meter-simulator", events.TypeMeterReading, reading)
	full.Time, full.ExpiryTime = at, at.Add(48*time.Hour)
	full.PartitionKey, full.Subject, full.DataSchema = "MTR-1", "meters/MTR-1", "https://watershed.dev/schemas/meter.reading.v1.json"
	full.CausationID, full.CorrelationID, full.Hops = "cause", "corr", 2
	full.Participants = []string{"/services/mqtt-gateway", "/services/meter-simulator"}
	extra, _ := contracts.New("/services/new-gateway", events.TypeMeterReading,
		json.RawMessage(`{"meter_id":"MTR-2","transformer_id":"TX-1","feeder_id":"FDR-1","read_at":"2025-03-01T10:15:00Z","interval_s":900,"energy_kwh_total":1,"demand_kw":0,"voltage_v":230,"quality":"estimated"}`))
	extra.Time = at
	other, _ := contracts.New("/services/gap-detector", "lab.probe.v1", map[string]any{"nested": map[string]int{"a": 1}})
	other.Time = at

	in := []contracts.Event{full, extra, other}
	for i, e := range in {
		if err := a.Add(ctx, Position{Topic: "rapids", Partition: 3, Offset: int64(100 + i), Time: at.Add(time.Second)}, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	byID := map[string]Row{}
	for r, err := range Rows(ctx, tb.bucket, Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		byID[r.Event.ID] = r
	}
	if len(byID) != 3 {
		t.Fatalf("read %d rows, want 3", len(byID))
	}
	for i, e := range in {
		r := byID[e.ID]
		if r.Topic != "rapids" || r.Partition != 3 || r.Offset != int64(100+i) || !r.RecordTime.Equal(at.Add(time.Second).Truncate(time.Microsecond)) {
			t.Errorf("%s: position %s/%d@%d %v", e.ID, r.Topic, r.Partition, r.Offset, r.RecordTime)
		}
		want := e.Clone()
		want.Time = want.Time.Truncate(time.Microsecond)
		want.ExpiryTime = want.ExpiryTime.Truncate(time.Microsecond)
		got := r.Event.Clone()
		if !jsonEqual(t, got.Data, want.Data) {
			t.Errorf("%s: data %s, want %s", e.ID, got.Data, want.Data)
		}
		got.Data, want.Data = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("envelope differs:\n got %+v\nwant %+v", got, want)
		}
	}
	if !strings.Contains(string(byID[extra.ID].Event.Data), `"quality":"estimated"`) {
		t.Errorf("the undeclared member was lost: %s", byID[extra.ID].Event.Data)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestListRowsAndCat lists with filters, reads rows in a time range and
// writes them as CSV and JSON lines, as `watershed ponds ls` and `cat` do.
func TestListRowsAndCat(t *testing.T) {
	ctx := context.Background()
	tb := fileBucket(t)
	recs := simulate(t, 5, 600, 2, midnight)
	a, _ := NewArchiver(tb.bucket, &Options{MaxRows: 50})
	for _, r := range recs {
		_ = a.AddMessage(ctx, r.pos, r.msg)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := List(ctx, tb.bucket, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	readings, _ := List(ctx, tb.bucket, Filter{Topic: "rapids", Type: events.TypeMeterReading})
	day2, _ := List(ctx, tb.bucket, Filter{Type: events.TypeMeterReading, From: midnight, To: midnight.Add(24 * time.Hour)})
	none, _ := List(ctx, tb.bucket, Filter{Topic: "rivers"})
	if len(none) != 0 || len(readings) == 0 || len(day2) == 0 || len(day2) >= len(readings) || len(readings) >= len(all) {
		t.Fatalf("List: all %d, readings %d, readings of day 2 %d, rivers %d", len(all), len(readings), len(day2), len(none))
	}
	for i, o := range all {
		if o.Size <= 0 || o.ModTime.IsZero() {
			t.Fatalf("%s: size %d, modtime %v", o.Key, o.Size, o.ModTime)
		}
		if i > 0 && all[i-1].Key > o.Key && all[i-1].Type == o.Type && all[i-1].Date == o.Date && all[i-1].Partition == o.Partition {
			t.Fatalf("List out of order at %s", o.Key)
		}
	}
	for _, o := range day2 {
		if o.Date != "2025-03-02" || o.Type != events.TypeMeterReading {
			t.Fatalf("day-2 filter returned %s", o.Key)
		}
	}

	// One hour across midnight, readings only.
	f := Filter{Type: events.TypeMeterReading, From: midnight.Add(-30 * time.Minute), To: midnight.Add(30 * time.Minute)}
	want := 0
	for _, r := range recs {
		if r.reading != nil && !r.event.Time.Before(f.From) && r.event.Time.Before(f.To) {
			want++
		}
	}
	var buf bytes.Buffer
	n, err := WriteCSV(&buf, []string{events.TypeMeterReading}, Rows(ctx, tb.bucket, f))
	if err != nil || n != want || want == 0 {
		t.Fatalf("WriteCSV wrote %d rows, %v; want %d", n, err, want)
	}
	lines, err := csv.NewReader(&buf).ReadAll()
	header := append(append(slices.Clone(CSVEnvelope), "meter_id", "transformer_id", "feeder_id", "read_at", "interval_s",
		"energy_kwh_total", "demand_kw", "voltage_v", "flags"), "data")
	if err != nil || len(lines) != want+1 || !reflect.DeepEqual(lines[0], header) {
		t.Fatalf("CSV: %d lines, %v, header %v", len(lines), err, lines[0])
	}
	byID := map[string]*events.MeterReading{}
	for _, r := range recs {
		byID[r.event.ID] = r.reading
	}
	for _, l := range lines[1:] {
		ts, _ := time.Parse(time.RFC3339Nano, l[7])
		if l[6] != events.TypeMeterReading || ts.Before(f.From) || !ts.Before(f.To) || l[len(l)-1] != "" {
			t.Fatalf("CSV line out of the filter or with packed data: %v", l)
		}
		// The fields are columns of their own.
		r := byID[l[4]]
		kwh, _ := strconv.ParseFloat(l[len(CSVEnvelope)+5], 64)
		if r == nil || l[len(CSVEnvelope)] != r.MeterID || kwh != r.EnergyKWhTotal {
			t.Fatalf("CSV line %v: meter_id and energy_kwh_total are not the reading's %+v", l, r)
		}
	}

	// A type the catalog does not know keeps its payload in data; a
	// river type's members are columns.
	buf.Reset()
	mixed := Filter{Type: "lab.probe.v1"}
	objs, _ := List(ctx, tb.bucket, mixed)
	if _, err := WriteCSV(&buf, Types(objs), Rows(ctx, tb.bucket, mixed)); err != nil {
		t.Fatal(err)
	}
	lines, _ = csv.NewReader(&buf).ReadAll()
	if len(lines) < 2 || len(lines[0]) != len(CSVEnvelope)+1 || !json.Valid([]byte(lines[1][len(CSVEnvelope)])) {
		t.Fatalf("CSV of an unknown type: %v", lines[:min(2, len(lines))])
	}
	buf.Reset()
	if _, err := WriteTable(&buf, []string{events.TypeMeterReadingMissed}, Rows(ctx, tb.bucket, Filter{Type: events.TypeMeterReadingMissed})); err != nil {
		t.Fatal(err)
	}
	if head, _, _ := strings.Cut(buf.String(), "\n"); !strings.Contains(head, "expected_at") || !strings.Contains(head, "consecutive_missed") {
		t.Fatalf("table header %q lacks the missed read's members", head)
	}

	buf.Reset()
	n, err = WriteJSONLines(&buf, Rows(ctx, tb.bucket, f))
	if err != nil || n != want {
		t.Fatalf("WriteJSONLines wrote %d, %v; want %d", n, err, want)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var l struct {
			Topic  string          `json:"topic"`
			Offset int64           `json:"offset"`
			Event  json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		e, err := contracts.UnmarshalStructured(l.Event)
		if err != nil || e.Type != events.TypeMeterReading || l.Topic != "rapids" {
			t.Fatalf("JSON line %s: %v", line, err)
		}
	}

	// Rows stops at the first error and yields it.
	if err := tb.bucket.WriteAll(ctx, ObjectKey("rapids", "lab.probe.v1", "2025-03-02", 9, 0), []byte("not parquet"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = WriteJSONLines(&bytes.Buffer{}, Rows(ctx, tb.bucket, Filter{Type: "lab.probe.v1"}))
	if err == nil || !strings.Contains(err.Error(), "not Parquet") {
		t.Fatalf("a broken object: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	key := ObjectKey("rapids", "meter.reading.v1", "2025-03-01", 12, 4567)
	if key != "rapids/ce_type=meter.reading.v1/date=2025-03-01/rapids+12+0000000000000004567.parquet" {
		t.Fatalf("ObjectKey = %s", key)
	}
	o, err := ParseKey(key)
	if err != nil || o != (Object{Key: key, Topic: "rapids", Type: "meter.reading.v1", Date: "2025-03-01", Partition: 12, FirstOffset: 4567}) {
		t.Fatalf("ParseKey = %+v, %v", o, err)
	}
	for _, bad := range []string{
		"rapids/ce_type=meter.reading.v1/date=2025-03-01/rapids+12+0000000000000004567.parquet.18a2.tmp",
		"rapids/ce_type=meter.reading.v1/date=2025-13-01/rapids+12+1.parquet",
		"rapids/kind=meter.reading.v1/date=2025-03-01/rapids+12+1.parquet",
		"rapids/ce_type=meter.reading.v1/date=2025-03-01/rivers+12+1.parquet",
		"rapids/ce_type=meter.reading.v1/date=2025-03-01/rapids+x+1.parquet",
		"rapids/ce_type=meter.reading.v1/date=2025-03-01/rapids+1+-1.parquet",
		"rapids/ce_type=meter.reading.v1/rapids+1+1.parquet",
	} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrNotAnObject) {
			t.Errorf("ParseKey(%s) = %v, want ErrNotAnObject", bad, err)
		}
	}
}

func TestOpenBucket(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"ftp://host/pond", "hdfs://nn/pond", ""} {
		_, err := OpenBucket(ctx, u)
		if !errors.Is(err, ErrUnsupportedScheme) || !strings.Contains(err.Error(), "file, s3, gs, azblob") {
			t.Errorf("OpenBucket(%q) = %v, want ErrUnsupportedScheme listing the schemes", u, err)
		}
	}
	dir := t.TempDir() + "/new/pond"
	for _, u := range []string{dir, "file://" + dir + "?prefix=sub/", "mem://"} {
		b, err := OpenBucket(ctx, u)
		if err != nil {
			t.Fatalf("OpenBucket(%s): %v", u, err)
		}
		if err := b.WriteAll(ctx, "a/b.txt", []byte("x"), nil); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		b.Close()
	}
	if _, err := OpenBucket(ctx, "s3://bucket?endpoint=http://127.0.0.1:1&nonsense=1"); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("an unknown s3 parameter: %v", err)
	}
	_, err := OpenBucket(ctx, "azblob://c?sig=SECRET123&nonsense=1")
	if err == nil || strings.Contains(err.Error(), "SECRET123") {
		t.Errorf("the error leaks a SAS signature or is missing: %v", err)
	}
}

func TestObjectURL(t *testing.T) {
	key := ObjectKey("rapids", "meter.reading.v1", "2025-03-01", 0, 7)
	for in, want := range map[string]string{
		"/var/pond":                           "/var/pond/" + key,
		"file:///var/pond":                    "/var/pond/" + key,
		"file:///var/pond?prefix=p/":          "/var/pond/p/" + key,
		"s3://b?endpoint=http://h:1&region=x": "s3://b/" + key,
		"s3://b?prefix=pond/":                 "s3://b/pond/" + key,
		"gs://b":                              "gs://b/" + key,
		"azblob://c?prefix=x/":                "az://c/x/" + key,
	} {
		got, err := ObjectURL(in, key)
		if err != nil || got != want {
			t.Errorf("ObjectURL(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ObjectURL("mem://", key); err == nil {
		t.Error("ObjectURL(mem://) succeeded")
	}
}
