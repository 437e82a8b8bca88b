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

func TestDeclaredTypesSkipsTheGeneratedFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("events.go", "package events\n\ntype MeterReading struct{}\n\ntype (\n\tA int\n\tB string\n)\n")
	write(catalogdoc.GoTypesFile, "package events\n\ntype Generated struct{}\n")
	write("x_test.go", "package events\n\ntype InTest struct{}\n")
	got, err := declaredTypes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got["MeterReading"] || !got["A"] || !got["B"] || got["Generated"] || got["InTest"] {
		t.Errorf("declaredTypes = %v", got)
	}
}

// A schema without its payload struct stops generation with the struct to
// write, before types_gen.go would stop the events package compiling.
func TestNewTypeNeedsItsStruct(t *testing.T) {
	schema := `{"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id": "https://watershed.dev/schemas/usage.alert.v1.json", "title": "Usage alert",
		"x-watershed": {"channel": "rivers", "key": "meter_id"},
		"type": "object", "additionalProperties": false,
		"properties": {"meter_id": {"type": "string"}}}`
	c, err := catalog.Load(fstest.MapFS{"usage.alert.v1.json": {Data: []byte(schema)}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "events.go"), []byte("package events\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = writeGoTypes(c, dir)
	if err == nil || !strings.Contains(err.Error(), "type UsageAlert struct (the payload of usage.alert.v1)") {
		t.Fatalf("writeGoTypes = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, catalogdoc.GoTypesFile)); err == nil {
		t.Error("types_gen.go written though a struct is missing")
	}
	if err := os.WriteFile(filepath.Join(dir, "alert.go"), []byte("package events\n\ntype UsageAlert struct{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeGoTypes(c, dir); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, catalogdoc.GoTypesFile))
	if err != nil || !strings.Contains(string(src), "return new(UsageAlert), true") {
		t.Fatalf("types_gen.go: %v\n%s", err, src)
	}
}
