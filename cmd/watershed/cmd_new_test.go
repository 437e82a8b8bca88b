package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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

// TestNewServiceInTheRepository runs `watershed new service` at the root of
// a small copy of the repository (go.work, modules.txt, and the contracts,
// rapids and rivers modules linked from this checkout), checks what it
// added, and then follows the printed next steps: go mod tidy, and go test
// from the root through go.work.
func TestNewServiceInTheRepository(t *testing.T) {
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
	t.Chdir(root)

	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"new", "service", "usage-alerts"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	gotWork, _ := os.ReadFile("go.work")
	if want := "\t./rivers\n\t./services/usage-alerts\n\t./services/zz-last\n"; !strings.Contains(string(gotWork), want) {
		t.Errorf("go.work:\n%s\nwant the use block to hold, in order:\n%s", gotWork, want)
	}
	gotMods, _ := os.ReadFile("modules.txt")
	if want := "# and versions\ncontracts v0.1.0\nrapids v0.1.0\nrivers v0.1.0\nservices/usage-alerts v0.1.0\nservices/zz-last v0.2.0\n"; !strings.HasSuffix(string(gotMods), want) {
		t.Errorf("modules.txt:\n%s\nwant it to end with:\n%s", gotMods, want)
	}
	if _, err := os.Stat(filepath.Join("services", "usage-alerts", "usagealerts", "kafka_test.go")); err != nil {
		t.Errorf("no test on the embedded broker: %v", err)
	}
	for _, step := range []string{"(cd services/usage-alerts && go mod tidy)", "go test ./services/usage-alerts/..."} {
		if !strings.Contains(out.String(), step) {
			t.Errorf("the next steps do not say %q:\n%s", step, out.String())
		}
	}
	// Twice is harmless for the lists, and refused for the module.
	if err := addToGoWork("go.work", "services/usage-alerts"); err != nil {
		t.Error(err)
	}
	if again, _ := os.ReadFile("go.work"); string(again) != string(gotWork) {
		t.Errorf("adding twice changed go.work:\n%s", again)
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
	// loses it first (as if it had been removed).
	if err := os.WriteFile("go.work", []byte(strings.Replace(string(gotWork), "\t./services/zz-last\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOFLAGS=", "GOSUMDB=off", "GOWORK=")
	for _, step := range []struct {
		dir  string
		args []string
	}{
		{filepath.Join("services", "usage-alerts"), []string{"mod", "tidy"}},
		{".", []string{"test", "-short", "-count=1", "./services/usage-alerts/..."}},
	} {
		c := exec.Command(gobin, step.args...)
		c.Dir, c.Env = step.dir, env
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("go %s in %s: %v\n%s", strings.Join(step.args, " "), step.dir, err, b)
		}
	}
}
