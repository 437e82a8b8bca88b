package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/cmd/watershed/internal/ecosystem"
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
	// dlq and ponds find dev's broker and pond too (the broker may answer
	// a partition's offsets with an error while dev is still starting up;
	// on a loaded machine that lasted over 30 s once: the limit is a safety
	// net, not a timing).
	for _, args := range [][]string{{"dlq", "ls"}, {"ponds", "ls"}} {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			cmd := newRootCmd()
			var b bytes.Buffer
			cmd.SetArgs(args)
			cmd.SetOut(&b)
			cmd.SetErr(&b)
			err := cmd.Execute()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("watershed %s without flags against dev: %v\n%s", strings.Join(args, " "), err, b.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// dev's printed hints name its addresses, so each works pasted from any
// directory whatever --addr, --http-port and --data-dir were: every hint is
// a command of this CLI whose flags carry them.
func TestDevHintsCarryTheAddresses(t *testing.T) {
	const broker = "127.0.0.1:29093"
	dataDir := filepath.Join(t.TempDir(), "elsewhere")
	st := []ecosystem.Status{{Name: "registry", HTTPAddr: "127.0.0.1:18111"}, {Name: "alert-router", HTTPAddr: "127.0.0.1:18112"}, {Name: "gap-detector", HTTPAddr: "127.0.0.1:18113"}}
	var b bytes.Buffer
	printMap(&b, broker, broker+" (embedded)", "redis://127.0.0.1:1/0", dataDir, st)
	pond, _ := filepath.Abs(filepath.Join(dataDir, "pond"))
	want := map[string]map[string]string{
		"tap":       {"brokers": "[" + broker + "]"},
		"services":  {"registry": "http://127.0.0.1:18111"},
		"dlq ls":    {"brokers": "[" + broker + "]"},
		"alerts ls": {"url": "http://127.0.0.1:18112"},
		"ponds ls":  {"pond": pond},
	}
	for _, line := range strings.Split(b.String(), "\n") {
		_, hint, ok := strings.Cut(line, "go run ./cmd/watershed ")
		if !ok {
			continue
		}
		cmd, args, err := newRootCmd().Find(strings.Fields(hint))
		if err != nil {
			t.Errorf("hint %q is not a command: %v", hint, err)
			continue
		}
		if err := cmd.ParseFlags(args); err != nil {
			t.Errorf("hint %q: %v", hint, err)
			continue
		}
		path := strings.TrimPrefix(cmd.CommandPath(), "watershed ")
		flags, ok := want[path]
		if !ok {
			t.Errorf("hint %q: unexpected command %q", hint, path)
			continue
		}
		delete(want, path)
		for name, v := range flags {
			if got := cmd.Flags().Lookup(name).Value.String(); got != v {
				t.Errorf("hint %q: --%s %q, want %q", hint, name, got, v)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("no hint for %v in:\n%s", want, b.String())
	}
}
