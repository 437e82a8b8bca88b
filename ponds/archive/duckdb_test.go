package archive

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/ponds/internal/testenv"
)

const recipe = "../analysts/duckdb_recipe.py"

// requirePython returns the python3 that has the modules, or ends the test.
func requirePython(t *testing.T, modules ...string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Unavailable(t, "python3 not found: the analysts' recipe cannot run")
	}
	for _, m := range modules {
		if out, err := exec.Command(py, "-c", "import "+m).CombinedOutput(); err != nil {
			testenv.Unavailable(t, "python module "+m+" missing (pip install -r ponds/analysts/requirements.txt): "+strings.TrimSpace(string(out)))
		}
	}
	return py
}

type recipeResult struct {
	Rows        int            `json:"rows"`
	DistinctIDs int            `json:"distinct_ids"`
	Meters      int            `json:"meters"`
	EnergyKWh   float64        `json:"energy_kwh"`
	Resets      int            `json:"register_resets"`
	FirstReadAt string         `json:"first_read_at"`
	LastReadAt  string         `json:"last_read_at"`
	Dates       map[string]int `json:"dates"`
}

// TestDuckDBRecipe archives simulated records (readings among other types
// and bad records), then runs the analysts' recipe, which reads the pond
// with DuckDB's read_parquet(..., hive_partitioning = true): it must count
// exactly the valid readings, each id once, and the energy used: the growth
// of each meter's register between its consecutive reads, resets left out
// (not the sum of the registers, which is no energy at all).
func TestDuckDBRecipe(t *testing.T) {
	py := requirePython(t, "duckdb")
	forEachBucket(t, func(t *testing.T, tb testBucket) {
		ctx := context.Background()
		recs := simulate(t, 42, testenv.Scale(3000, 3), 3, midnight)
		a, err := NewArchiver(tb.bucket, &Options{MaxRows: len(recs) / 8})
		if err != nil {
			t.Fatal(err)
		}
		want := recipeResult{Dates: map[string]int{}}
		meters := map[string]bool{}
		registers := map[string]map[time.Time]float64{} // meter -> read_at -> register
		var first, last time.Time
		for _, r := range recs {
			err := a.AddMessage(ctx, r.pos, r.msg)
			if (err == nil) != r.valid {
				t.Fatalf("Add(%d@%d) = %v, valid %v", r.pos.Partition, r.pos.Offset, err, r.valid)
			}
			if r.reading == nil {
				continue
			}
			want.Rows++
			if registers[r.reading.MeterID] == nil {
				registers[r.reading.MeterID] = map[time.Time]float64{}
			}
			registers[r.reading.MeterID][r.reading.ReadAt.UTC()] = max(registers[r.reading.MeterID][r.reading.ReadAt.UTC()], r.reading.EnergyKWhTotal)
			want.Dates[r.event.Time.UTC().Format(time.DateOnly)]++
			meters[r.reading.MeterID] = true
			if first.IsZero() || r.reading.ReadAt.Before(first) {
				first = r.reading.ReadAt
			}
			last = maxTime(last, r.reading.ReadAt)
		}
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		want.DistinctIDs, want.Meters = want.Rows, len(meters)
		var registerSum float64
		for _, byTime := range registers {
			times := slices.SortedFunc(maps.Keys(byTime), time.Time.Compare)
			for i, at := range times {
				registerSum += byTime[at]
				if i == 0 {
					continue
				}
				if d := byTime[at] - byTime[times[i-1]]; d >= 0 {
					want.EnergyKWh += d
				} else {
					want.Resets++
				}
			}
		}
		if want.EnergyKWh <= 0 || want.EnergyKWh > registerSum/2 {
			t.Fatalf("the simulated fleet used %.3f kWh, its registers sum to %.0f: the test's data says nothing", want.EnergyKWh, registerSum)
		}
		var cmd *exec.Cmd
		if strings.HasPrefix(tb.url, "file://") {
			cmd = exec.Command(py, recipe, strings.TrimPrefix(tb.url, "file://"))
		} else {
			requirePython(t, "duckdb_ext") // httpfs without a download
			e := requireS3(t)
			u, _ := url.Parse(tb.url)
			root := "s3://" + u.Host + "/" + strings.TrimSuffix(u.Query().Get("prefix"), "/")
			// versitygw ignores ListObjects' encoding-type=url, so DuckDB's
			// s3:// glob would read the '+' of the names as spaces: give
			// DuckDB the list, as `watershed ponds ls --url` prints it.
			objs, err := List(ctx, tb.bucket, Filter{Topic: "rapids", Type: "meter.reading.v1"})
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, o := range objs {
				lines = append(lines, root+"/"+o.Key)
			}
			files := filepath.Join(t.TempDir(), "objects.txt")
			if err := os.WriteFile(files, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd = exec.Command(py, recipe, root, "--files", files)
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+e.accessKey, "AWS_SECRET_ACCESS_KEY="+e.secretKey,
				"AWS_REGION="+e.region, "S3_ENDPOINT="+e.endpoint)
		}
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr)
		}
		var got recipeResult
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("recipe output %q: %v", out, err)
		}
		t.Logf("DuckDB: %+v", got)
		if got.Rows != want.Rows || got.DistinctIDs != want.DistinctIDs || got.Meters != want.Meters {
			t.Fatalf("DuckDB counts rows %d, ids %d, meters %d; want %d, %d, %d",
				got.Rows, got.DistinctIDs, got.Meters, want.Rows, want.DistinctIDs, want.Meters)
		}
		if math.Abs(got.EnergyKWh-want.EnergyKWh) > 1e-9*want.EnergyKWh || got.Resets != want.Resets {
			t.Fatalf("DuckDB energy %.6f kWh with %d register resets, want %.6f kWh and %d", got.EnergyKWh, got.Resets, want.EnergyKWh, want.Resets)
		}
		if len(got.Dates) != 2 || got.Dates["2025-03-01"] != want.Dates["2025-03-01"] || got.Dates["2025-03-02"] != want.Dates["2025-03-02"] {
			t.Fatalf("DuckDB rows per date %v, want %v", got.Dates, want.Dates)
		}
		// read_at is a TIMESTAMP WITH TIME ZONE in UTC, not a number or text.
		if !strings.HasPrefix(got.FirstReadAt, first.UTC().Format("2006-01-02 15:04:05")) ||
			!strings.HasPrefix(got.LastReadAt, last.UTC().Format("2006-01-02 15:04:05")) {
			t.Fatalf("DuckDB read_at range %s .. %s, want %v .. %v", got.FirstReadAt, got.LastReadAt, first, last)
		}
	})
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestDuckDBColumnTypes checks that DuckDB sees proper types: timestamps
// as TIMESTAMP WITH TIME ZONE, numbers as DOUBLE, flags as a list.
func TestDuckDBColumnTypes(t *testing.T) {
	py := requirePython(t, "duckdb")
	ctx := context.Background()
	tb := fileBucket(t)
	a, _ := NewArchiver(tb.bucket, nil)
	for _, r := range simulate(t, 7, 200, 1, midnight) {
		_ = a.AddMessage(ctx, r.pos, r.msg)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	glob := filepath.Join(strings.TrimPrefix(tb.url, "file://"), "rapids", "ce_type=meter.reading.v1", "*", "*.parquet")
	script := `import duckdb, sys, json
rows = duckdb.sql("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true)", params=[sys.argv[1]]).fetchall()
print(json.dumps({r[0]: r[1] for r in rows}))`
	out, err := exec.Command(py, "-c", script, glob).CombinedOutput()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, out)
	}
	var types map[string]string
	if err := json.Unmarshal(out, &types); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	for col, want := range map[string]string{
		"time": "TIMESTAMP WITH TIME ZONE", "expiry_time": "TIMESTAMP WITH TIME ZONE", "read_at": "TIMESTAMP WITH TIME ZONE",
		"record_time": "TIMESTAMP WITH TIME ZONE", "offset": "BIGINT", "partition": "INTEGER", "energy_kwh_total": "DOUBLE",
		"interval_s": "INTEGER", "flags": "VARCHAR[]", "meter_id": "VARCHAR", "date": "DATE", "type": "VARCHAR",
	} {
		if types[col] != want {
			t.Errorf("DuckDB column %s is %q, want %q", col, types[col], want)
		}
	}
}
