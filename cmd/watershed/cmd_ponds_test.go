package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/ponds/archive"
)

// pondFixture archives readings and probes over two days into a folder.
func pondFixture(t *testing.T) (dir string, readingsDay2 int) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "pond")
	ctx := context.Background()
	b, err := archive.OpenBucket(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := archive.NewArchiver(b, &archive.Options{MaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		at := midnight.Add(time.Duration(i-30) * 15 * time.Minute)
		typ, data := "meter.reading.v1", any(map[string]any{
			"meter_id": "MTR-1", "transformer_id": "TX-1", "feeder_id": "FDR-1", "read_at": at.Format(time.RFC3339),
			"interval_s": 900, "energy_kwh_total": float64(i), "demand_kw": 1, "voltage_v": 230,
		})
		if i%3 == 0 {
			typ, data = "lab.probe.v1", map[string]int{"n": i}
		} else if !at.Before(midnight) {
			readingsDay2++
		}
		e, err := contracts.New("/services/test", typ, data)
		if err != nil {
			t.Fatal(err)
		}
		e.Time = at
		if err := a.Add(ctx, archive.Position{Topic: "rapids", Offset: int64(i)}, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir, readingsDay2
}

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestPondsLs(t *testing.T) {
	dir, _ := pondFixture(t)
	out, err := runCmd(t, "ponds", "ls", "--pond", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "TOPIC") || len(lines) < 5 {
		t.Fatalf("ls printed:\n%s", out)
	}
	out, err = runCmd(t, "ponds", "ls", "--pond", dir, "--type", "meter.reading.v1", "--from", "2025-03-02", "--url")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, dir+"/rapids/ce_type=meter.reading.v1/date=2025-03-02/rapids+0+") || !strings.HasSuffix(l, ".parquet") {
			t.Fatalf("ls --url printed %q", l)
		}
	}
	t.Setenv("WATERSHED_POND", "file://"+dir)
	out, err = runCmd(t, "ponds", "ls", "--json", "--type", "lab.probe.v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var o struct{ Type string }
		if err := json.Unmarshal([]byte(l), &o); err != nil || o.Type != "lab.probe.v1" {
			t.Fatalf("ls --json line %q: %v", l, err)
		}
	}
}

func TestPondsCat(t *testing.T) {
	dir, day2 := pondFixture(t)
	out, err := runCmd(t, "ponds", "cat", "--pond", dir, "--type", "meter.reading.v1", "--from", "2025-03-02", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != day2+1 || recs[0][0] != "topic" {
		t.Fatalf("cat --format csv: %d records (want %d + header), %v:\n%s", len(recs), day2, err, out)
	}
	// The reading's fields are columns, not one packed JSON data column.
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	if _, ok := col["energy_kwh_total"]; !ok || recs[1][col["meter_id"]] != "MTR-1" || recs[1][col["data"]] != "" {
		t.Fatalf("cat --format csv does not expand the fields: %v / %v", recs[0], recs[1])
	}
	out, err = runCmd(t, "ponds", "cat", "--pond", dir, "--type", "lab.probe.v1", "--format", "table", "--limit", "2")
	if err != nil || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 || !strings.Contains(out, `{"n":`) {
		t.Fatalf("cat --format table: %v\n%s", err, out)
	}
	out, err = runCmd(t, "ponds", "cat", "--pond", dir, "--limit", "5")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("cat --limit 5 printed %d lines", len(lines))
	}
	var l struct {
		Topic string          `json:"topic"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil {
		t.Fatal(err)
	}
	if _, err := contracts.UnmarshalStructured(l.Event); err != nil || l.Topic != "rapids" {
		t.Fatalf("cat line %s: %v", lines[0], err)
	}

	// A pond that is not there is an error, and is not created.
	missing := filepath.Join(t.TempDir(), "no-pond")
	for _, args := range [][]string{{"ponds", "ls", "--pond", missing}, {"ponds", "cat", "--pond", "file://" + missing}} {
		if _, err := runCmd(t, args...); err == nil || !strings.Contains(err.Error(), "no pond at "+missing) {
			t.Errorf("%v: %v, want no pond at %s", args, err, missing)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Fatalf("%v created %s", args, missing)
		}
	}

	for _, args := range [][]string{
		{"ponds", "cat", "--pond", dir, "--format", "xml"},
		{"ponds", "cat", "--pond", dir, "--from", "yesterday"},
		{"ponds", "ls", "--pond", "ftp://somewhere"},
		{"ponds", "cat", "--pond", dir, "--from", "2025-03-02", "--to", "2025-03-01"},
	} {
		if _, err := runCmd(t, args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
