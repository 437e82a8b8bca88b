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
	files, err := Files("gap-detector")
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

// TestRenderedServiceBuildsAndPassesItsTests renders the template, points
// its replace directives at this checkout, and runs go mod tidy and go test in
// it, as a team would after `watershed new service`.
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
	dst := filepath.Join(t.TempDir(), "voltage-watch")
	if err := RenderWith(dst, Options{Name: "voltage-watch", Root: root}); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOSUMDB=off")
	for _, args := range [][]string{{"mod", "tidy"}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command(gobin, args...)
		cmd.Dir, cmd.Env = dst, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in the rendered service: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
