package template

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRenderRefusesBadNamesAndFullDirectories(t *testing.T) {
	for _, name := range []string{"", "Gap", "gap_detector", "-gap", "gap-", "gap--detector", "9gap"} {
		if err := Render(t.TempDir(), name); err == nil {
			t.Errorf("Render(%q) succeeded", name)
		}
	}
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Render(dst, "gap-detector"); err == nil {
		t.Error("Render into a non-empty directory succeeded")
	}
}

func TestRenderWritesTheFiles(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "services", "gap-detector")
	if err := Render(dst, "gap-detector"); err != nil {
		t.Fatal(err)
	}
	files, err := Files("gap-detector", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go.mod", "main.go", "README.md", "Dockerfile", "gapdetector/service.go",
		"gapdetector/config.go", "gapdetector/doc.go", "gapdetector/service_test.go", "gapdetector/kafka_test.go"} {
		if !slices.Contains(files, want) {
			t.Errorf("Files has no %s: %v", want, files)
		}
		b, err := os.ReadFile(filepath.Join(dst, want))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "[[") {
			t.Errorf("%s keeps template markup", want)
		}
	}
	mod, _ := os.ReadFile(filepath.Join(dst, "go.mod"))
	if !strings.Contains(string(mod), "module github.com/watershed-grid/watershed/services/gap-detector") ||
		!strings.Contains(string(mod), "=> ../../rivers") {
		t.Errorf("go.mod:\n%s", mod)
	}
}

func TestRenderTypedRefusesWhatItCannotWrite(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Name: "a", Consumes: []string{"usage.alert.v1"}}, "contracts/schemas/usage.alert.v1.json"},
		{Options{Name: "a", Consumes: []string{"meter.reading.v1"}, Publishes: []string{"usage.alert.v1", "usage.alarm.v1"}}, "usage.alarm.v1.json"},
		{Options{Name: "a", Publishes: []string{"usage.interval.v1"}}, "consumes"},
		{Options{Name: "a", Consumes: []string{"meter.reading.v1"}, Publishes: []string{"system.heartbeat.v1"}}, "SDK"},
	} {
		dst := filepath.Join(t.TempDir(), "a")
		err := RenderWith(dst, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RenderWith(%+v) = %v, want an error saying %q", c.o, err, c.want)
		}
		if _, serr := os.Stat(dst); serr == nil {
			t.Errorf("RenderWith(%+v) failed but wrote %s", c.o, dst)
		}
	}
}

func TestRenderTypedWritesItsOwnService(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "command-echo")
	o := Options{Name: "command-echo", Consumes: []string{"meter.command.v1", "meter.reading.v1"},
		Publishes: []string{"meter.command.requested.v1", "outage.suspected.v1"}}
	if err := RenderWith(dst, o); err != nil {
		t.Fatal(err)
	}
	files, err := Files("command-echo", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dst, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"[[", "VOLTAGE_MIN_V", "watches the supply voltage", "MinVolts"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s holds %q: not its own text", f, bad)
			}
		}
	}
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dst, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	svc, mapping, readme := read("commandecho/service.go"), read("commandecho/mapping.go"), read("README.md")
	for _, want := range []string{
		"rivers.NewRiver(events.TypeMeterReading)", "OnTopic(rivers.Rapids)", // its channel in the catalog
		"rivers.NewRiver(events.TypeMeterCommand)", "OnTopic(rivers.Rivers)",
		"svc.Publishes(events.TypeMeterCommandRequested, events.TypeOutageSuspected)",
		"var in events.MeterCommand",
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("service.go lacks %q:\n%s", want, svc)
		}
	}
	for _, want := range []string{
		"func meterCommandRequestedFromMeterCommand(in events.MeterCommand) (events.MeterCommandRequested, bool)",
		"return out, true",  // every required property is shared
		"return out, false", // outage.suspected.v1 needs what a command lacks
	} {
		if !strings.Contains(mapping, want) {
			t.Errorf("mapping.go lacks %q:\n%s", want, mapping)
		}
	}
	for _, want := range []string{"# command-echo", "`meter.reading.v1` on `rapids`", "`outage.suspected.v1` on `rivers`", "commandecho/mapping.go"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks %q:\n%s", want, readme)
		}
	}
}

// TestRenderedServiceBuildsAndPassesItsTests renders the template — the
// example, a service that publishes, and one that only reads — points
// their replace directives at this checkout, and runs go mod tidy and go
// test in each, as a team would after `watershed new service`.
func TestRenderedServiceBuildsAndPassesItsTests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module: skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Name: "voltage-watch"},
		{Name: "command-echo", Consumes: []string{"meter.command.v1", "meter.reading.v1"},
			Publishes: []string{"meter.command.requested.v1", "outage.suspected.v1"}},
		{Name: "outage-log", Consumes: []string{"outage.suspected.v1"}},
	} {
		t.Run(o.Name, func(t *testing.T) {
			o.Root = root
			dst := filepath.Join(t.TempDir(), o.Name)
			if err := RenderWith(dst, o); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOSUMDB=off")
			for _, args := range [][]string{{"mod", "tidy"}, {"vet", "./..."}, {"test", "-count=1", "./..."}} {
				cmd := exec.Command(gobin, args...)
				cmd.Dir, cmd.Env = dst, env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("go %s in the rendered service: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}
