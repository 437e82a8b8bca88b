package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/archive"
	"github.com/watershed-grid/watershed/services/meter-simulator/simulator"
)

// The analysts' recipes in these files are run as written: fenced blocks
// whose info string is "<language> recipe" (sql, python or sh).
var recipeDocs = []string{"../../README.md", "../../ponds/README.md"}

const consumptionSQL = "../../ponds/analysts/consumption.sql"

// recipe is one fenced block to run.
type recipe struct {
	doc, lang, code string
	line            int
	needs           string // python module the block needs beyond duckdb, pandas, pyarrow
}

// extractRecipes returns the blocks of doc marked "```<lang> recipe".
func extractRecipes(t *testing.T, doc string) []recipe {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []recipe
	var cur *recipe
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			info := strings.Fields(strings.TrimPrefix(line, "```"))
			if len(info) >= 2 && info[1] == "recipe" {
				cur = &recipe{doc: doc, lang: info[0], line: n}
				if len(info) > 2 {
					cur.needs = info[2]
				}
			}
		case cur != nil && strings.HasPrefix(line, "```"):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// recipePython returns a python3 with duckdb, pandas and pyarrow, or ends
// the test (failing under CI=true).
func recipePython(t *testing.T, modules ...string) string {
	t.Helper()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatal(why + " (scripts/test.sh installs ponds/analysts/requirements.txt)")
		}
		t.Skip(why + " (pip install -r ponds/analysts/requirements.txt)")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		unavailable("no python3 on PATH: the analysts' recipes cannot run")
	}
	for _, m := range modules {
		if out, err := exec.Command(py, "-c", "import "+m).CombinedOutput(); err != nil {
			unavailable("python module " + m + " missing: " + strings.TrimSpace(string(out)))
		}
	}
	return py
}

// recipePond is what the test pond holds and what the simulator knows.
type recipePond struct {
	dir   string // the working directory; the pond is .watershed/pond in it
	model *simulator.Model
	// exchanged is the meter whose register restarts (a meter exchange)
	// at exchangedAt: reads after it hold the true register minus offsetWh.
	exchanged   string
	exchangedAt time.Time
	offsetWh    int64
}

// writeRecipePond archives two simulated days of a small fleet into
// <dir>/.watershed/pond, with missed, duplicated and out-of-order reads, an
// outage, a meter exchange, and every catalog example on the rivers.
func writeRecipePond(t *testing.T) recipePond {
	t.Helper()
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(48 * time.Hour)
	fleet, err := simulator.NewFleet(simulator.FleetConfig{Seed: 7, Meters: 60})
	if err != nil {
		t.Fatal(err)
	}
	model, err := simulator.NewModel(fleet, simulator.Scenario{Start: start, Faults: []simulator.Fault{
		{Kind: simulator.FaultMissing, Rate: 0.03},
		{Kind: simulator.FaultDuplicate, Rate: 0.02},
		{Kind: simulator.FaultOutOfOrder, Rate: 0.02},
		{Kind: simulator.FaultOutage, Target: fleet.Transformers()[1].ID, From: start.Add(20 * time.Hour), To: start.Add(23 * time.Hour)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := recipePond{dir: t.TempDir(), model: model, exchanged: fleet.Meter(5).ID, exchangedAt: start.Add(30*time.Hour + 7*time.Minute)}
	reg, err := model.RegisterWh(p.exchanged, p.exchangedAt)
	if err != nil {
		t.Fatal(err)
	}
	p.offsetWh = reg - 12_000 // the new meter starts at 12 kWh

	ctx := context.Background()
	b, err := archive.OpenBucket(ctx, filepath.Join(p.dir, ".watershed", "pond"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := archive.NewArchiver(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]map[int]int64{"rapids": {}, "rivers": {}}
	add := func(topic, key string, e contracts.Event) {
		t.Helper()
		h := fnv.New32a()
		h.Write([]byte(key))
		part := int(h.Sum32() % 2)
		pos := archive.Position{Topic: topic, Partition: part, Offset: next[topic][part], Time: e.Time}
		next[topic][part]++
		if err := a.Add(ctx, pos, e); err != nil {
			t.Fatal(err)
		}
	}
	for up := range simulator.NewGenerator(model).Uploads(end) {
		for _, it := range up.Items {
			if it.Kind == simulator.ItemMalformed {
				continue
			}
			r := it.Reading
			if r.MeterID == p.exchanged && r.ReadAt.After(p.exchangedAt) {
				r.RegisterWh -= p.offsetWh
			}
			e, err := contracts.New("/services/meter-simulator", events.TypeMeterReading, json.RawMessage(r.AppendJSON(nil)))
			if err != nil {
				t.Fatal(err)
			}
			e.Time, e.PartitionKey = r.ReadAt, r.MeterID
			add("rapids", r.MeterID, e)
		}
	}
	examples, _ := filepath.Glob("../../contracts/examples/*.json")
	for i, f := range examples {
		typ := strings.TrimSuffix(filepath.Base(f), ".json")
		if k := strings.Index(typ, ".v1"); k >= 0 {
			typ = typ[:k+3]
		}
		if typ == events.TypeMeterReading {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e, err := contracts.New("/services/test", typ, json.RawMessage(data))
		if err != nil {
			t.Fatal(err)
		}
		e.Time = start.Add(time.Duration(i) * time.Hour)
		add("rivers", typ, e)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRecipesRunAsWritten runs every recipe block of the READMEs, in a
// folder whose .watershed/pond the test wrote: SQL through DuckDB, Python
// with python3, shell with bash and this binary as `watershed`.
func TestRecipesRunAsWritten(t *testing.T) {
	py := recipePython(t, "duckdb", "pandas", "pyarrow")
	p := writeRecipePond(t)
	bin := watershedShim(t)
	var all []recipe
	for _, doc := range recipeDocs {
		all = append(all, extractRecipes(t, doc)...)
	}
	langs := map[string]int{}
	for _, r := range all {
		langs[r.lang]++
	}
	if langs["sql"] == 0 || langs["python"] == 0 || langs["sh"] == 0 {
		t.Fatalf("recipes by language %v: want sql, python and sh blocks marked \"recipe\"", langs)
	}
	for _, r := range all {
		t.Run(fmt.Sprintf("%s:%d", strings.TrimPrefix(r.doc, "../../"), r.line), func(t *testing.T) {
			if r.needs != "" {
				recipePython(t, r.needs)
			}
			var cmd *exec.Cmd
			switch r.lang {
			case "sql":
				cmd = exec.Command(py, "-c", "import duckdb, sys; duckdb.sql(sys.stdin.read()).show()")
			case "python":
				cmd = exec.Command(py, "-")
			case "sh":
				cmd = exec.Command("bash", "-euo", "pipefail")
				cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			default:
				t.Fatalf("%s:%d: a recipe in %q, which the test cannot run", r.doc, r.line, r.lang)
			}
			cmd.Dir = p.dir
			cmd.Stdin = strings.NewReader(r.code)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s:%d (%s) failed: %v\n%s\n--- the recipe:\n%s", r.doc, r.line, r.lang, err, out, r.code)
			}
			t.Logf("%s", out)
		})
	}
}

// watershedShim returns a folder with a `watershed` that runs this test
// binary as the CLI (see TestMain).
func watershedShim(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nWATERSHED_TEST_AS_CLI=1 exec %q \"$@\"\n", self)
	if err := os.WriteFile(filepath.Join(dir, "watershed"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMain lets the test binary stand in for the watershed command, so the
// shell recipes run the CLI of this very build.
func TestMain(m *testing.M) {
	if os.Getenv("WATERSHED_TEST_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestConsumptionMatchesSimulator runs the consumption view
// (ponds/analysts/consumption.sql, which the README shows verbatim) over
// two simulated days and holds every row to the simulator's model: an
// interval read on time has exactly the meter's true energy; the
// estimated intervals after missed reads sum to the true energy of the
// gap; the one register that went down (a meter exchange) is a reset with
// no energy; and every interval from a meter's first read to its last has
// one row.
func TestConsumptionMatchesSimulator(t *testing.T) {
	py := recipePython(t, "duckdb")
	view, err := os.ReadFile(consumptionSQL)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), string(view)) {
		t.Fatalf("README.md does not show %s verbatim: copy it into the README's sql recipe", consumptionSQL)
	}
	p := writeRecipePond(t)
	script := `import duckdb, json, sys
con = duckdb.connect()
con.execute(sys.stdin.read())
for r in con.execute("SELECT meter_id, epoch(read_at)::BIGINT, interval_s, energy_kwh, estimated, reset FROM consumption ORDER BY 1, 2").fetchall():
    print(json.dumps(r))`
	cmd := exec.Command(py, "-c", script)
	cmd.Dir, cmd.Stdin = p.dir, strings.NewReader(string(view))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("consumption view: %v\n%s", err, stderrOf(err))
	}
	type row struct {
		meter      string
		at         time.Time
		interval   time.Duration
		wh         *int64
		estimated  bool
		reset      bool
		spanFirst  time.Time
		spanRowsWh int64
	}
	var rows []row
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		var f []any
		if err := json.Unmarshal([]byte(line), &f); err != nil || len(f) != 6 {
			t.Fatalf("view row %q: %v", line, err)
		}
		r := row{meter: f[0].(string), at: time.Unix(int64(f[1].(float64)), 0).UTC(),
			interval: time.Duration(f[2].(float64)) * time.Second, estimated: f[4].(bool), reset: f[5].(bool)}
		if f[3] != nil {
			wh := int64(math.Round(f[3].(float64) * 1000))
			r.wh = &wh
		}
		rows = append(rows, r)
	}
	if len(rows) < 60*150 {
		t.Fatalf("the view has %d rows for 60 meters over 2 days", len(rows))
	}
	trueWh := func(meter string, from, to time.Time) int64 {
		t.Helper()
		wh, err := p.model.UsageWh(meter, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return wh
	}
	exact, estimated, resets := 0, 0, 0
	for i := 0; i < len(rows); i++ {
		r := rows[i]
		if i > 0 && rows[i-1].meter == r.meter && !rows[i-1].at.Add(r.interval).Equal(r.at) {
			t.Fatalf("%s: rows at %v then %v: an interval has no row", r.meter, rows[i-1].at, r.at)
		}
		switch {
		case r.reset:
			resets++
			if r.wh != nil || r.meter != p.exchanged || r.at.Before(p.exchangedAt) || r.at.After(p.exchangedAt.Add(2*time.Hour)) {
				t.Fatalf("reset row %+v: want only the exchange of %s at %v, without energy", r, p.exchanged, p.exchangedAt)
			}
		case r.estimated:
			// A run of estimated rows ends at the read after the gap and
			// spreads the gap's true energy.
			j := i
			var sum float64
			for ; j < len(rows) && rows[j].meter == r.meter && rows[j].estimated; j++ {
				sum += float64(*rows[j].wh)
			}
			last := rows[j-1]
			want := trueWh(r.meter, r.at.Add(-r.interval), last.at)
			if math.Abs(sum-float64(want)) > float64(j-i) { // each row rounds to a Wh
				t.Fatalf("%s: estimated rows %v..%v sum to %.0f Wh, the meter used %d Wh", r.meter, r.at, last.at, sum, want)
			}
			estimated += j - i
			i = j - 1
		default:
			exact++
			if want := trueWh(r.meter, r.at.Add(-r.interval), r.at); r.wh == nil || *r.wh != want {
				t.Fatalf("%s at %v: %v Wh, the meter used %d Wh", r.meter, r.at, r.wh, want)
			}
		}
	}
	if resets != 1 || estimated == 0 || exact < len(rows)*9/10 {
		t.Fatalf("rows: %d exact, %d estimated, %d resets; want most exact, some estimated, one reset", exact, estimated, resets)
	}
	t.Logf("%d rows: %d exact, %d estimated, %d reset", len(rows), exact, estimated, resets)
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
