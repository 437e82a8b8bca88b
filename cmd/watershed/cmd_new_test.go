package main

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestNewServiceWritesAModule(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "usage-alerts")
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"new", "service", "usage-alerts", "--dir", dst})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "main.go", "README.md", "Dockerfile"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("new service did not write %s: %v", f, err)
		}
	}
	mod, err := os.ReadFile(filepath.Join(dst, "go.mod"))
	if err != nil || !strings.Contains(string(mod), "services/usage-alerts") {
		t.Errorf("go.mod should name the module services/usage-alerts: %q, %v", mod, err)
	}
	if !strings.Contains(out.String(), "created "+dst) {
		t.Errorf("output %q should say what was created", out.String())
	}

	cmd = newRootCmd()
	cmd.SetArgs([]string{"new", "service", "Bad_Name", "--dir", filepath.Join(t.TempDir(), "x")})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "lower-case") {
		t.Errorf("a bad name should fail and say why, got %v", err)
	}
}

// repoFixture makes a small copy of the repository in a temporary
// directory and changes to it: go.work and modules.txt of its own (with a
// listed module, zz-last, that sorts last), the contracts, rapids and rivers
// modules linked from this checkout, and copies of the files `watershed new
// service` changes. It returns the checkout's root.
func repoFixture(t *testing.T) string {
	t.Helper()
	checkout, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, m := range []string{"contracts", "rapids", "rivers"} {
		if err := os.Symlink(filepath.Join(checkout, m), filepath.Join(root, m)); err != nil {
			t.Fatal(err)
		}
	}
	work := "go 1.26.0\n\nuse (\n\t./contracts\n\t./rapids\n\t./rivers\n\t./services/zz-last\n)\n"
	mods := "# Go modules\n# and versions\ncontracts v0.1.0\nrapids v0.1.0\nrivers v0.1.0\nservices/zz-last v0.2.0\n"
	for f, s := range map[string]string{"go.work": work, "modules.txt": mods} {
		if err := os.WriteFile(filepath.Join(root, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range repoFiles[2:] {
		src, dst := filepath.Join(checkout, f), filepath.Join(root, f)
		if f == helmServices {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			src, dst = filepath.Join(src, "clock-watch.yaml"), filepath.Join(dst, "clock-watch.yaml")
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(root)
	return checkout
}

// yamlBlock returns the lines of the two-space key name in a YAML file,
// up to the next blank line, with the comment after the key cut.
func yamlBlock(text, name string) string {
	_, rest, ok := strings.Cut(text, "\n  "+name+":")
	if !ok {
		return ""
	}
	block, _, _ := strings.Cut(rest, "\n\n")
	first, more, _ := strings.Cut(block, "\n")
	if c := strings.Index(first, "#"); c >= 0 {
		first = strings.TrimSpace(first[:c])
	}
	return first + "\n" + strings.TrimRight(more, "\n")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNewServiceInTheRepository runs `watershed new service` with
// --consumes and --publishes at the root of a copy of the repository's
// lists, checks that every one gained the service the way clock-watch is
// in it, and then follows the printed next steps: go mod tidy, and go test
// from the root through go.work. The dev member is compiled against the
// new service.
func TestNewServiceInTheRepository(t *testing.T) {
	repoFixture(t)
	before := map[string]string{}
	for _, f := range repoFiles {
		if f != helmServices {
			before[f] = readFile(t, f)
		}
	}

	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"new", "service", "usage-alerts", "--consumes", "usage.interval.v1", "--publishes", "meter.reading.anomalous.v1"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for f, was := range before {
		if readFile(t, f) == was {
			t.Errorf("%s did not change", f)
		}
	}
	gotWork := readFile(t, "go.work")
	if want := "\t./rivers\n\t./services/usage-alerts\n\t./services/zz-last\n"; !strings.Contains(gotWork, want) {
		t.Errorf("go.work:\n%s\nwant the use block to hold, in order:\n%s", gotWork, want)
	}
	if want := "# and versions\ncontracts v0.1.0\nrapids v0.1.0\nrivers v0.1.0\nservices/usage-alerts v0.1.0\nservices/zz-last v0.2.0\n"; !strings.HasSuffix(readFile(t, "modules.txt"), want) {
		t.Errorf("modules.txt:\n%s\nwant it to end with:\n%s", readFile(t, "modules.txt"), want)
	}
	for _, f := range []string{"usagealerts/kafka_test.go", "usagealerts/mapping.go", "usagealerts/service_test.go"} {
		if _, err := os.Stat(filepath.Join("services", "usage-alerts", f)); err != nil {
			t.Errorf("services/usage-alerts/%s: %v", f, err)
		}
	}
	if svc := readFile(t, "services/usage-alerts/usagealerts/service.go"); !strings.Contains(svc, "rivers.NewRiver(events.TypeUsageInterval)") ||
		!strings.Contains(svc, "svc.Publishes(events.TypeMeterReadingAnomalous)") {
		t.Errorf("service.go does not read usage.interval.v1 and publish meter.reading.anomalous.v1:\n%s", svc)
	}

	// watershed dev: the CLI's go.mod, and a member that Members calls.
	mod := readFile(t, cliGoMod)
	for _, want := range []string{"\tgithub.com/watershed-grid/watershed/services/usage-alerts v0.0.0\n",
		"\nreplace github.com/watershed-grid/watershed/services/usage-alerts => ../../services/usage-alerts\n"} {
		if !strings.Contains(mod, want) {
			t.Errorf("%s lacks %q", cliGoMod, want)
		}
	}
	members := readFile(t, devMembers)
	if _, err := parser.ParseFile(token.NewFileSet(), devMembers, members, 0); err != nil {
		t.Errorf("%s does not parse: %v", devMembers, err)
	}
	if !strings.Contains(members, devMarker) || !strings.Contains(members, "\tmember(usageAlertsMember())\n") {
		t.Errorf("%s does not call member(usageAlertsMember()) after its marker", devMembers)
	}
	memberSrc := readFile(t, filepath.Join(filepath.Dir(devMembers), "members_usagealerts.go"))
	if !strings.Contains(memberSrc, "func usageAlertsMember() (string, func() (func(*rivers.Service) error, error))") {
		t.Errorf("members_usagealerts.go:\n%s", memberSrc)
	}

	// Deployment: as clock-watch is.
	for _, f := range []string{composeFile, helmValues} {
		text := readFile(t, f)
		got := strings.ReplaceAll(yamlBlock(text, "usage-alerts"), "usage-alerts", "clock-watch")
		if want := yamlBlock(text, "clock-watch"); got != want {
			t.Errorf("%s: usage-alerts is\n%s\nwant it as clock-watch is:\n%s", f, got, want)
		}
	}
	if !strings.Contains(readFile(t, collectorFile), "\n                - usage-alerts:8080\n") {
		t.Errorf("%s does not scrape usage-alerts:8080", collectorFile)
	}
	var schema struct {
		Properties struct {
			Services struct {
				Properties map[string]map[string]string `json:"properties"`
			} `json:"services"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(readFile(t, helmSchema)), &schema); err != nil {
		t.Errorf("%s: %v", helmSchema, err)
	} else if got, want := schema.Properties.Services.Properties["usage-alerts"], schema.Properties.Services.Properties["clock-watch"]; got == nil || !maps.Equal(got, want) {
		t.Errorf("%s: services.usage-alerts is %v, want %v as clock-watch", helmSchema, got, want)
	}
	tmpl := readFile(t, filepath.Join(helmServices, "usage-alerts.yaml"))
	if want := strings.ReplaceAll(readFile(t, filepath.Join(helmServices, "clock-watch.yaml")), "clock-watch", "usage-alerts"); tmpl != want {
		t.Errorf("the Helm template:\n%s\nwant:\n%s", tmpl, want)
	}
	check := readFile(t, deployCheck)
	if _, err := parser.ParseFile(token.NewFileSet(), deployCheck, check, 0); err != nil || !strings.Contains(check, "\t\"usage-alerts\",\n}") {
		t.Errorf("%s does not list usage-alerts last (%v)", deployCheck, err)
	}
	if !regexp.MustCompile(`(?s)\nall=\([^)]* usage-alerts\)`).MatchString(readFile(t, buildImages)) {
		t.Errorf("%s does not build usage-alerts", buildImages)
	}
	if !regexp.MustCompile(`(?s)\nkafka_services=\([^)]* usage-alerts\)`).MatchString(readFile(t, initSecrets)) {
		t.Errorf("%s does not give usage-alerts a Kafka principal", initSecrets)
	}

	for _, step := range []string{"(cd services/usage-alerts && go mod tidy)", "go test ./services/usage-alerts/...",
		"go run ./cmd/watershed dev", "services/usage-alerts/usagealerts/mapping.go"} {
		if !strings.Contains(out.String(), step) {
			t.Errorf("the next steps do not say %q:\n%s", step, out.String())
		}
	}
	// Twice is harmless for the lists, and refused for the module.
	after := map[string]string{}
	for f := range before {
		after[f] = readFile(t, f)
	}
	if err := addService("usage-alerts", "usagealerts", "again"); err != nil {
		t.Error(err)
	}
	for f, was := range after {
		if again := readFile(t, f); again != was {
			t.Errorf("adding twice changed %s:\n%s", f, again)
		}
	}
	cmd = newRootCmd()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetArgs([]string{"new", "service", "usage-alerts"})
	if err := cmd.Execute(); err == nil {
		t.Error("a second new service of the same name succeeded")
	}

	if testing.Short() {
		t.Skip("following the next steps builds a module: skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("following the next steps needs the go command, which is not in PATH")
	}
	// The next steps as printed; zz-last is listed but absent, so go.work
	// loses it first (as if it had been removed). Then the dev member,
	// copied into a package of the new module, must compile against it.
	if err := os.WriteFile("go.work", []byte(strings.Replace(gotWork, "\t./services/zz-last\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	devcheck := filepath.Join("services", "usage-alerts", "internal", "devcheck")
	if err := os.MkdirAll(devcheck, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(devcheck, "member.go"), []byte(strings.Replace(memberSrc, "package ecosystem", "package devcheck", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOFLAGS=", "GOSUMDB=off", "GOWORK=")
	for _, step := range []struct {
		dir  string
		args []string
	}{
		{filepath.Join("services", "usage-alerts"), []string{"mod", "tidy"}},
		{".", []string{"test", "-count=1", "./services/usage-alerts/..."}},
	} {
		c := exec.Command(gobin, step.args...)
		c.Dir, c.Env = step.dir, env
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("go %s in %s: %v\n%s", strings.Join(step.args, " "), step.dir, err, b)
		}
	}
}

func TestNewServiceRefusesTypesOutsideTheCatalog(t *testing.T) {
	repoFixture(t)
	work := readFile(t, "go.work")
	cmd := newRootCmd()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetArgs([]string{"new", "service", "usage-alerts", "--consumes", "usage.interval.v1", "--publishes", "usage.alert.v1"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "contracts/schemas/usage.alert.v1.json") {
		t.Fatalf("publishing a type outside the catalog: %v, want an error naming the schema file to add", err)
	}
	if _, err := os.Stat(filepath.Join("services", "usage-alerts")); err == nil {
		t.Error("the refused service was written")
	}
	if readFile(t, "go.work") != work {
		t.Error("the refused service changed go.work")
	}
}
