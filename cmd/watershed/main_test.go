package main

import (
	"bytes"
	"context"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"strings"
	"testing"
	"time"
)

// running is a watershed command running in the background.
type running struct {
	out, err *riverstest.Buffer
	cancel   context.CancelFunc
	done     chan error
}

// start runs `watershed args...` until stop.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &riverstest.Buffer{}, err: &riverstest.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(r.out)
	cmd.SetErr(r.err)
	go func() { r.done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop interrupts the command, as Ctrl-C does, and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("command did not stop within 20s of its interruption")
		return nil
	}
}

// waitFor waits until what returns true, or fails the test after 20s.
// waitFor polls what until it holds. The limit is a safety net, not a
// timing: a whole watershed dev starting under -race on a loaded 2-core
// machine took longer than 20 s to list its services.
func waitFor(t *testing.T, desc string, what func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !what() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", desc)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"--version"})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "watershed version ") || strings.TrimSpace(got) == "watershed version" {
		t.Errorf("--version printed %q", got)
	}
}

func TestCommandsAreRegistered(t *testing.T) {
	root := newRootCmd()
	for _, name := range []string{"broker", "tap"} {
		if c, _, err := root.Find([]string{name}); err != nil || c.Name() != name {
			t.Errorf("command %q not found: %v", name, err)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"tap"},                    // no topic
		{"tap", "a", "b"},          // two topics
		{"broker", "--partitions"}, // flag without value
		{"broker", "--nope"},
		{"dev", "--redis", "nope"},
	} {
		cmd := newRootCmd()
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		if err := cmd.Execute(); err == nil {
			t.Errorf("watershed %s: no error", strings.Join(args, " "))
		}
	}
}
