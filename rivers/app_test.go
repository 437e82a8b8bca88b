package rivers

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
)

type ownConfig struct{ Limit int }

func goodConfig() (ownConfig, error) { return ownConfig{Limit: 3}, nil }

// mainFor runs runMain as a process named name would, with args.
func mainFor(t *testing.T, ctx context.Context, args []string, config func() (ownConfig, error), start func(*App, ownConfig) error) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(ctx, "main-test", flag.NewFlagSet("main-test", flag.ContinueOnError), args, &out, &errOut, config, start)
	return code, out.String(), errOut.String()
}

func mustNotStart(t *testing.T) func(*App, ownConfig) error {
	return func(*App, ownConfig) error {
		t.Error("start was called")
		return nil
	}
}

func TestMainReportsEveryConfigurationProblemAtOnce(t *testing.T) {
	t.Setenv("HEARTBEAT_INTERVAL", "soon")
	config := func() (ownConfig, error) {
		return ownConfig{}, errors.Join(errors.New(`OWN_LIMIT="many": want an integer`), errors.New("OWN_DIR: required"))
	}
	code, _, stderr := mainFor(t, context.Background(), nil, config, mustNotStart(t))
	if code != ExitConfig {
		t.Errorf("exit code %d, want %d (configuration)", code, ExitConfig)
	}
	for _, want := range []string{"nothing started", "HEARTBEAT_INTERVAL", "OWN_LIMIT", "OWN_DIR"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, stderr)
		}
	}
}

func TestMainCommandLine(t *testing.T) {
	code, stdout, _ := mainFor(t, context.Background(), []string{"-version"}, goodConfig, mustNotStart(t))
	if code != ExitOK || strings.TrimSpace(stdout) == "" {
		t.Errorf("-version: exit %d, printed %q", code, stdout)
	}
	if code, _, _ := mainFor(t, context.Background(), []string{"-no-such-flag"}, goodConfig, mustNotStart(t)); code != ExitConfig {
		t.Errorf("an unknown flag: exit %d, want %d", code, ExitConfig)
	}
	code, _, stderr := mainFor(t, context.Background(), []string{"run"}, goodConfig, mustNotStart(t))
	if code != ExitConfig || !strings.Contains(stderr, "environment variables") {
		t.Errorf("an argument: exit %d, stderr %q", code, stderr)
	}
}

// TestVersionUnderGoRunIsModulesTxts: a binary without a stamped or
// module version (go run, go test) reports its module's line of
// modules.txt.
func TestVersionUnderGoRunIsModulesTxts(t *testing.T) {
	t.Setenv("SERVICE_VERSION", "")
	b, err := os.ReadFile(filepath.Join("..", "modules.txt"))
	if err != nil {
		t.Skip("not in a checkout with modules.txt: ", err)
	}
	var want string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "rivers" {
			want = f[1]
		}
	}
	if got := buildVersion(); got != want {
		t.Errorf("buildVersion() = %q, want modules.txt's %q", got, want)
	}
	code, stdout, _ := mainFor(t, context.Background(), []string{"-version"}, goodConfig, mustNotStart(t))
	if code != ExitOK || strings.TrimSpace(stdout) != want {
		t.Errorf("-version printed %q, want %q", stdout, want)
	}
}

func TestModuleVersion(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "services", "x", "xpkg")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	txt := "# comment\nrivers v0.1.0\nservices/x v1.2.3\n"
	if err := os.WriteFile(filepath.Join(root, "modules.txt"), []byte(txt), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, path, want string }{
		{deep, moduleRoot + "services/x", "v1.2.3"},
		{root, moduleRoot + "rivers", "v0.1.0"},
		{deep, moduleRoot + "services/y", ""},
		{deep, "example.com/other/services/x", ""},
		{t.TempDir(), moduleRoot + "services/x", ""},
	} {
		if got := moduleVersion(c.dir, c.path); got != c.want {
			t.Errorf("moduleVersion(%s, %s) = %q, want %q", c.dir, c.path, got, c.want)
		}
	}
}

func TestMainStartFailures(t *testing.T) {
	var stoppedWith error
	start := func(app *App, _ ownConfig) error {
		app.OnStop(func(_ context.Context, runErr error) error { stoppedWith = runErr; return nil })
		return errors.New("redis: connection refused")
	}
	code, _, stderr := mainFor(t, context.Background(), nil, goodConfig, start)
	if code != ExitFailure || !strings.Contains(stderr, "main-test: redis: connection refused") {
		t.Errorf("a failed start: exit %d, stderr %q", code, stderr)
	}
	if stoppedWith == nil {
		t.Error("the OnStop function did not run after a failed start")
	}

	start = func(app *App, _ ownConfig) error { return fmt.Errorf("%w: OWN_MODE: unknown mode", ErrConfig) }
	if code, _, _ := mainFor(t, context.Background(), nil, goodConfig, start); code != ExitConfig {
		t.Errorf("a start error wrapping ErrConfig: exit %d, want %d", code, ExitConfig)
	}
	start = func(app *App, _ ownConfig) error { return nil }
	if code, _, stderr := mainFor(t, context.Background(), nil, goodConfig, start); code != ExitFailure || !strings.Contains(stderr, "NewService") {
		t.Errorf("a start that made no Service: exit %d, stderr %q", code, stderr)
	}
	start = func(app *App, _ ownConfig) error {
		if _, err := app.NewService(); err != nil {
			return err
		}
		_, err := app.NewService()
		return err
	}
	if code, _, _ := mainFor(t, context.Background(), nil, goodConfig, start); code != ExitFailure {
		t.Errorf("NewService twice: exit %d, want %d", code, ExitFailure)
	}
}

// TestMainRunsAndStopsCleanly runs a service through Main on the embedded
// broker: a signal (here: ctx) stops what runs beside the Service first,
// then the Service, then the OnStop functions, and Main exits 0.
func TestMainRunsAndStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", Topics: []rapids.TopicSpec{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t.Setenv("KAFKA_BROKERS", b.Addr())
	t.Setenv("HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("LOG_LEVEL", "error")
	t.Setenv("SERVICE_VERSION", "9.9.9")

	runCtx, stop := context.WithCancel(ctx)
	var order []string
	var served atomic.Bool
	start := func(app *App, cfg ownConfig) error {
		svc, err := app.NewService()
		if err != nil {
			return err
		}
		if cfg.Limit != 3 || svc.cfg.Version != "9.9.9" || svc.cfg.Name != "main-test" {
			t.Errorf("config %+v, service %s %s", cfg, svc.cfg.Name, svc.cfg.Version)
		}
		app.Go(func(ctx context.Context) error {
			for svc.Ready(ctx) != nil {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
			served.Store(true)
			stop() // as a SIGTERM would
			<-ctx.Done()
			order = append(order, "beside")
			return nil
		})
		app.OnStop(func(_ context.Context, runErr error) error {
			order = append(order, "second OnStop")
			return runErr
		})
		app.OnStop(func(context.Context, error) error { order = append(order, "first OnStop"); return nil })
		return nil
	}
	code, _, stderr := mainFor(t, runCtx, nil, goodConfig, start)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if !served.Load() {
		t.Error("the service never became ready")
	}
	if got := strings.Join(order, ", "); got != "beside, first OnStop, second OnStop" {
		t.Errorf("stop order: %s", got)
	}
}
