package main

import (
	"bytes"
	"os"
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
