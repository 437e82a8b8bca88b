package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsFindTheRunningDev runs watershed dev in its default data
// directory, then `watershed services` and `watershed publish` with no
// address: they find dev's registry and broker from its endpoints file.
func TestCommandsFindTheRunningDev(t *testing.T) {
	t.Chdir(t.TempDir())
	start(t, "dev", "--addr", "127.0.0.1:0", "--http-port", "0", "--pprof", "", "--meters", "50", "--redis", "in-process")
	path := filepath.Join(defaultDataDir, endpointsFile)
	waitFor(t, "dev's endpoints file", func() bool { _, err := os.Stat(path); return err == nil })
	var out string
	waitFor(t, "watershed services to list dev's gap-detector", func() bool {
		cmd := newRootCmd()
		var b bytes.Buffer
		cmd.SetArgs([]string{"services"})
		cmd.SetOut(&b)
		cmd.SetErr(&b)
		_ = cmd.Execute()
		out = b.String()
		return strings.Contains(out, "gap-detector")
	})
	got, err := runPublish(t, "publish", "meter.reading.v1", "--data", testReading)
	if err != nil {
		t.Fatalf("publish to dev's broker without --brokers: %v\n%s", err, got)
	}
}
