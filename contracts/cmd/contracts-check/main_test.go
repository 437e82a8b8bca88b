package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeSchema writes a variant of the catalog's meter.reading.v1 schema.
func writeSchema(t *testing.T, dir, name string, change func(m map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile("../../schemas/meter.reading.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(m)
	}
	b, _ := json.Marshal(m)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func properties(m map[string]any) map[string]any { return m["properties"].(map[string]any) }

func TestCompat(t *testing.T) {
	dir := t.TempDir()
	v1 := writeSchema(t, dir, "1.json", nil)
	v2 := writeSchema(t, dir, "2.json", func(m map[string]any) {
		properties(m)["phase"] = map[string]any{"type": "string", "description": "Supply phase."}
	})
	v3 := writeSchema(t, dir, "3.json", func(m map[string]any) {
		properties(m)["phase"] = map[string]any{"type": "string", "description": "Supply phase."}
		m["required"] = append(m["required"].([]any), "phase")
	})
	code, out, errOut := runCLI(t, "", "compat", v1, v2)
	if code != 0 || !strings.Contains(out, "2.json is BACKWARD_TRANSITIVE compatible with 1 earlier schema(s)") {
		t.Fatalf("compatible: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "", "compat", v1, v2, v3)
	for _, want := range []string{"3.json is not BACKWARD_TRANSITIVE compatible", "1.json at '/phase': REQUIRED_PROPERTY_ADDED", "2.json at '/phase': REQUIRED_PROPERTY_ADDED"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Fatalf("incompatible: exit %d, stderr does not contain %q:\n%s%s", code, want, out, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "", "compat", v1); code != 2 || !strings.Contains(errOut, "usage:") {
		t.Fatalf("one file: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "compat", v1, filepath.Join(dir, "missing.json")); code != 1 || !strings.Contains(errOut, "missing.json") {
		t.Fatalf("missing file: exit %d %s", code, errOut)
	}
}

func TestValidate(t *testing.T) {
	good := "../../examples/meter.reading.v1.json"
	code, out, errOut := runCLI(t, "", "validate", "meter.reading.v1", good, "../../examples/meter.reading.v1.power-fail.json")
	if code != 0 || strings.Count(out, "valid meter.reading.v1") != 2 {
		t.Fatalf("valid: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, `{"meter_id":"m"}`, "validate", "meter.reading.v1", "-")
	if code != 1 || !strings.Contains(errOut, "-: meter.reading.v1: invalid payload: at '': missing properties") {
		t.Fatalf("invalid stdin: exit %d %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "validate", "usage.interval.v1", good)
	if code != 1 || !strings.Contains(errOut, "additional properties") {
		t.Fatalf("wrong type: exit %d %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "validate", "meter.reading.v7", good)
	if code != 1 || !strings.Contains(errOut, `"meter.reading.v7" is not in the catalog`) {
		t.Fatalf("unknown type: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "validate", "meter.reading.v1"); code != 2 {
		t.Fatalf("no file: exit %d", code)
	}
	// A catalog from a folder.
	dir := t.TempDir()
	writeSchema(t, dir, "meter.reading.v1.json", func(m map[string]any) {
		m["required"] = append(m["required"].([]any), "flags")
	})
	code, _, errOut = runCLI(t, "", "validate", "-schemas", dir, "meter.reading.v1", good)
	if code != 1 || !strings.Contains(errOut, "missing property 'flags'") {
		t.Fatalf("-schemas: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "validate", "-schemas", t.TempDir(), "meter.reading.v1", good); code != 1 || !strings.Contains(errOut, "no <type>.json schema files") {
		t.Fatalf("-schemas empty folder: exit %d %s", code, errOut)
	}
}

func TestHistory(t *testing.T) {
	if code, out, errOut := runCLI(t, "", "history"); code != 0 || !strings.Contains(out, "built-in catalog") {
		t.Fatalf("built-in: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "", "history", "../../schemas"); code != 0 || !strings.Contains(out, "every schema compiles") {
		t.Fatalf("on disk: exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	h := filepath.Join(dir, "history", "meter.reading.v1")
	if err := os.MkdirAll(h, 0o755); err != nil {
		t.Fatal(err)
	}
	writeSchema(t, h, "1.json", nil)
	narrow := func(m map[string]any) { properties(m)["voltage_v"].(map[string]any)["maximum"] = 480.0 }
	writeSchema(t, h, "2.json", narrow)
	writeSchema(t, dir, "meter.reading.v1.json", narrow)
	code, _, errOut := runCLI(t, "", "history", dir)
	if code != 1 || !strings.Contains(errOut, "at '/voltage_v': RANGE_NARROWED: upper bound tightened from none to 480") {
		t.Fatalf("incompatible history: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "history", dir, dir); code != 2 {
		t.Fatalf("two folders: exit %d", code)
	}
}

func TestTypesAndUsage(t *testing.T) {
	code, out, _ := runCLI(t, "", "types")
	if code != 0 || !strings.Contains(out, "meter.reading.v1") || !strings.Contains(out, "rapids") || strings.Count(out, "\n") < 10 {
		t.Fatalf("types: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, ""); code != 2 || !strings.Contains(errOut, "commands:") {
		t.Fatalf("no command: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "help"); code != 0 || !strings.Contains(errOut, "compat <old.json>") {
		t.Fatalf("help: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "lint"); code != 2 || !strings.Contains(errOut, `unknown command "lint"`) {
		t.Fatalf("unknown command: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "types", "-bogus"); code != 2 {
		t.Fatalf("bad flag: exit %d", code)
	}
}
