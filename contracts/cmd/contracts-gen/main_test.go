package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/internal/catalogdoc"
)

func TestDeclaredTypesSkipsTheGeneratedFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("enums.go", "package events\n\ntype Handwritten struct{}\n\ntype (\n\tA int\n\tB string\n)\n")
	write(catalogdoc.GoTypesFile, "package events\n\ntype Generated struct{}\n")
	write(catalogdoc.PayloadsFile, "package events\n\ntype MeterReading struct{}\n")
	write("x_test.go", "package events\n\ntype InTest struct{}\n")
	got, err := declaredTypes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got["Handwritten"] != "enums.go" || got["A"] != "enums.go" || got["B"] != "enums.go" || len(got) != 3 {
		t.Errorf("declaredTypes = %v", got)
	}
}

const alertSchema = `{"$schema": "https://json-schema.org/draft/2020-12/schema",
	"$id": "https://watershed.dev/schemas/usage.alert.v1.json", "title": "Usage alert",
	"description": "A meter used more than it usually does.",
	"x-watershed": {"channel": "rivers", "key": "meter_id"},
	"type": "object", "additionalProperties": false, "required": ["meter_id"],
	"properties": {"meter_id": {"type": "string", "description": "The meter."},
		"ratio_kw": {"type": "number", "description": "How much more."}}}`

// A new type is one schema: its payload struct, constant and NewPayload
// case are generated.
func TestNewTypeIsGenerated(t *testing.T) {
	c, err := catalog.Load(fstest.MapFS{"usage.alert.v1.json": {Data: []byte(alertSchema)}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "doc.go"), []byte("package events\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeGoTypes(c, dir); err != nil {
		t.Fatal(err)
	}
	payloads, err := os.ReadFile(filepath.Join(dir, catalogdoc.PayloadsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"// UsageAlert is the payload of usage.alert.v1.\n//\n// A meter used more than it usually does.\ntype UsageAlert struct {",
		"\t// The meter.\n\tMeterID string `json:\"meter_id\"`\n",
		"RatioKW *float64 `json:\"ratio_kw,omitempty\"`",
	} {
		if !strings.Contains(string(payloads), want) {
			t.Errorf("%s lacks %q:\n%s", catalogdoc.PayloadsFile, want, payloads)
		}
	}
	types, err := os.ReadFile(filepath.Join(dir, catalogdoc.GoTypesFile))
	if err != nil || !strings.Contains(string(types), "return new(UsageAlert), true") {
		t.Fatalf("%s: %v\n%s", catalogdoc.GoTypesFile, err, types)
	}
}

// A struct still declared by hand stops generation with the declaration to
// delete, before a second declaration would stop the package compiling.
func TestHandWrittenStructStopsGeneration(t *testing.T) {
	c, err := catalog.Load(fstest.MapFS{"usage.alert.v1.json": {Data: []byte(alertSchema)}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alert.go"), []byte("package events\n\ntype UsageAlert struct{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = writeGoTypes(c, dir)
	if err == nil || !strings.Contains(err.Error(), "type UsageAlert (in alert.go)") {
		t.Fatalf("writeGoTypes = %v", err)
	}
	for _, f := range []string{catalogdoc.PayloadsFile, catalogdoc.GoTypesFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s written though a struct is declared by hand", f)
		}
	}
}
