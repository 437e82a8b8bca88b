package supervisor

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the supervised program: with
// SUPERVISOR_TEST_HELPER set it runs helperMain instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SUPERVISOR_TEST_HELPER"); mode != "" {
		helperMain(mode)
		return
	}
	os.Exit(m.Run())
}

func helperMain(mode string) {
	if f := os.Getenv("SUPERVISOR_TEST_RUNS"); f != "" {
		// one line per run, so the test counts starts
		fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			_, _ = fh.WriteString(os.Getenv(EnvInstance) + "\n")
			_ = fh.Close()
		}
	}
	switch mode {
	case "rivers": // a real service on the broker of the test, until SIGTERM
		os.Exit(riversHelper())
	case "crash":
		os.Exit(3)
	case "ok":
		os.Exit(0)
	case "serve": // runs until SIGTERM, then writes a marker
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		if f := os.Getenv("SUPERVISOR_TEST_READY"); f != "" { // the handler is installed
			fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				_, _ = fh.WriteString(os.Getenv("SUPERVISOR_TEST_NAME") + "\n")
				_ = fh.Close()
			}
		}
		<-ch
		if f := os.Getenv("SUPERVISOR_TEST_STOPPED"); f != "" {
			fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				_, _ = fh.WriteString(os.Getenv("SUPERVISOR_TEST_NAME") + "\n")
				_ = fh.Close()
			}
		}
		os.Exit(0)
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(2)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func helper(name, mode string, env map[string]string) Program {
	e := map[string]string{"SUPERVISOR_TEST_HELPER": mode, "SUPERVISOR_TEST_NAME": name}
	for k, v := range env {
		e[k] = v
	}
	return Program{Name: name, Command: os.Args[0], Env: e, StopTimeout: 2 * time.Second,
		Backoff: Backoff{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond, Factor: 2}}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return out
}

func TestCrashingProgramIsRestartedWithBackoffUntilMaxRestarts(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	p := helper("crasher", "crash", map[string]string{"SUPERVISOR_TEST_RUNS": runs})
	p.Restart = OnFailure
	p.MaxRestarts = 4
	var mu sync.Mutex
	var restarts []Restart
	gaveUp := make(chan string, 1)
	s, err := New(Manifest{Programs: []Program{p}}, Options{
		Logger:    quietLogger(),
		OnRestart: func(_ context.Context, r Restart) { mu.Lock(); restarts = append(restarts, r); mu.Unlock() },
		OnGiveUp:  func(_ context.Context, name string, _ error) { gaveUp <- name },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case name := <-gaveUp:
		if name != "crasher" {
			t.Fatalf("gave up on %q", name)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor never gave up on the crashing program")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, runs)
	if len(lines) != 5 {
		t.Fatalf("program ran %d times, want 1 start + 4 restarts", len(lines))
	}
	mu.Lock()
	defer mu.Unlock()
	wantBackoff := []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond}
	if len(restarts) != len(wantBackoff) {
		t.Fatalf("got %d restart events, want %d", len(restarts), len(wantBackoff))
	}
	for i, r := range restarts {
		if r.Instance == "" || r.PreviousInstance == "" || r.Instance == r.PreviousInstance || r.Attempt != i+1 || r.Total != i+1 || r.Backoff != wantBackoff[i] || r.ExitCode != 3 || r.PID == 0 || r.OldPID == 0 || r.PID == r.OldPID {
			t.Errorf("restart %d = %+v, want attempt %d, backoff %v, exit code 3, new pid", i, r, i+1, wantBackoff[i])
		}
		if r.Instance != lines[i+1] || r.PreviousInstance != lines[i] {
			t.Errorf("restart %d: instances %q after %q, the runs saw %q after %q", i, r.Instance, r.PreviousInstance, lines[i+1], lines[i])
		}
	}
	st := s.Status()
	if !st[0].GaveUp || st[0].Restarts != 4 || st[0].Running {
		t.Errorf("status = %+v", st[0])
	}
}

func TestOnFailureDoesNotRestartCleanExit(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	p := helper("oneshot", "ok", map[string]string{"SUPERVISOR_TEST_RUNS": runs})
	gaveUp := make(chan struct{}, 1)
	var restarted atomic.Bool
	s, err := New(Manifest{Programs: []Program{p}}, Options{Logger: quietLogger(),
		OnRestart: func(context.Context, Restart) { restarted.Store(true) },
		OnGiveUp:  func(context.Context, string, error) { gaveUp <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	select {
	case <-gaveUp:
	case <-time.After(10 * time.Second):
		t.Fatal("clean exit was not final")
	}
	if restarted.Load() || len(readLines(t, runs)) != 1 {
		t.Fatalf("clean exit restarted (runs %d)", len(readLines(t, runs)))
	}
}

func TestAlwaysRestartsCleanExit(t *testing.T) {
	p := helper("looper", "ok", nil)
	p.Restart = Always
	p.MaxRestarts = 2
	got := make(chan Restart, 4)
	s, err := New(Manifest{Programs: []Program{p}}, Options{Logger: quietLogger(),
		OnRestart: func(_ context.Context, r Restart) { got <- r }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	for i := 0; i < 2; i++ {
		select {
		case r := <-got:
			if r.ExitCode != 0 {
				t.Errorf("restart after exit code %d, want 0", r.ExitCode)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("restart %d never came", i+1)
		}
	}
}

func TestShutdownStopsInReverseOrderAndKillsStubborn(t *testing.T) {
	dir := t.TempDir()
	stopped := filepath.Join(dir, "stopped")
	ready := filepath.Join(dir, "ready")
	env := map[string]string{"SUPERVISOR_TEST_STOPPED": stopped, "SUPERVISOR_TEST_READY": ready}
	a, b := helper("a", "serve", env), helper("b", "serve", env)
	c := helper("c", "stubborn", nil)
	c.StopTimeout = 200 * time.Millisecond
	s, err := New(Manifest{Programs: []Program{a, b, c}}, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for _, st := range s.Status() {
			if st.Running {
				n++
			}
		}
		if n == 3 && len(readLines(t, ready)) == 2 { // a and b handle SIGTERM now
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("programs not running with their signal handlers: %+v", s.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the stubborn helper ignore SIGTERM
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown hung")
	}
	lines := readLines(t, stopped)
	if len(lines) != 2 || lines[0] != "b" || lines[1] != "a" {
		t.Fatalf("stop order %v, want [b a]", lines)
	}
	for _, st := range s.Status() {
		if st.Running {
			t.Errorf("%s still running after shutdown", st.Name)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Factor: 3}
	want := []time.Duration{time.Second, 3 * time.Second, 9 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w)
		}
	}
}
