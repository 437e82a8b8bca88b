package catalogdoc_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

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

// TestGeneratedFilesAreCurrent fails when asyncapi.yaml,
// events/payloads_gen.go or events/types_gen.go is not what the schemas
// make: run go generate ./contracts/... after changing a schema or the
// template.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	c := catalog.Default()
	for file, gen := range map[string]func(*catalog.Catalog) ([]byte, error){
		"asyncapi.yaml": catalogdoc.AsyncAPI,
		filepath.Join("events", catalogdoc.GoTypesFile):  catalogdoc.GoTypes,
		filepath.Join("events", catalogdoc.PayloadsFile): catalogdoc.Payloads,
	} {
		want, err := gen(c)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("contracts/%s differs from what the schemas make: run go generate ./contracts/...", file)
		}
	}
}

// TestAsyncAPICarriesTheSchemaTexts parses the generated document back:
// every message's title and summary are its schema's, whatever quotes
// and line breaks they hold.
func TestAsyncAPICarriesTheSchemaTexts(t *testing.T) {
	c := catalog.Default()
	raw, err := catalogdoc.AsyncAPI(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Messages map[string]struct {
				Title   string `yaml:"title"`
				Summary string `yaml:"summary"`
				Control bool   `yaml:"x-watershed-control"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, typ := range c.Types() {
		info, _ := c.Info(typ)
		m := doc.Components.Messages[typ]
		if m.Title != info.Title || m.Summary != info.Description || m.Control != info.Control {
			t.Errorf("%s: title %q, summary %q, control %v; the schema says %q, %q, %v",
				typ, m.Title, m.Summary, m.Control, info.Title, info.Description, info.Control)
		}
	}
}

func TestYAMLQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", "a: b # c", "two\nlines", "tab\there", "\"quoted\" \\ back", "kWh · ümlaut", "'", "- list?", "\u0007bell"} {
		var got string
		if err := yaml.Unmarshal([]byte("v: "+catalogdoc.YAMLQuote(s)), &struct{ V *string }{&got}); err != nil {
			t.Errorf("%q quoted as %s: %v", s, catalogdoc.YAMLQuote(s), err)
			continue
		}
		if got != s {
			t.Errorf("%q quoted as %s reads back as %q", s, catalogdoc.YAMLQuote(s), got)
		}
	}
}

func TestGoType(t *testing.T) {
	c := catalog.Default()
	for typ, want := range map[string]string{
		"meter.reading.v1":          "MeterReading",
		"meter.command.ack.v1":      "MeterCommandAck",
		"system.heartbeat.v1":       "Heartbeat",
		"system.service.up.v1":      "ServiceUp",
		"system.monitor.lagging.v1": "MonitorLagging",
	} {
		if got, err := catalogdoc.GoType(c, typ); got != want || err != nil {
			t.Errorf("GoType(%s) = %q, %v; want %q", typ, got, err, want)
		}
	}
}
