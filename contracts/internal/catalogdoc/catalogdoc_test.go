package catalogdoc_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/internal/catalogdoc"
)

// TestREADMEIsGenerated fails when contracts/README.md's catalog table is
// not what the schemas say: run go generate ./contracts/... after changing
// a schema.
func TestREADMEIsGenerated(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	table, err := catalogdoc.Table(catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	want, err := catalogdoc.Rewrite(string(b), table)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if string(b) != want {
		t.Errorf("contracts/README.md's catalog table differs from the schemas: run go generate ./contracts/... (want:\n%s)", table)
	}
}

func TestRewriteNeedsItsMarkers(t *testing.T) {
	if _, err := catalogdoc.Rewrite("no markers", "t"); err == nil {
		t.Error("Rewrite without markers succeeded")
	}
	got, err := catalogdoc.Rewrite("a\n"+catalogdoc.Begin+"\nold\n"+catalogdoc.End+"\nb", "new\n")
	if err != nil || !strings.Contains(got, "\nnew\n"+catalogdoc.End+"\nb") || strings.Contains(got, "old") {
		t.Errorf("Rewrite = %q, %v", got, err)
	}
}
