package rivers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// Exit codes of [Main].
const (
	// ExitOK: the service stopped cleanly (a signal, or -version).
	ExitOK = 0
	// ExitFailure: the service failed while starting or running.
	ExitFailure = 1
	// ExitConfig: the configuration or the command line is wrong; nothing
	// was started. Restarting will not help: fix what the message names.
	ExitConfig = 2
)

// ErrConfig marks a configuration error. [Main] exits with [ExitConfig]
// for an error of a service's config function, of [App.NewService], and for
// any error of its start function that wraps ErrConfig.
var ErrConfig = errors.New("configuration error")

// Main is a service's whole main function: it runs the service called name
// as this process and exits.
//
//	func main() {
//		rivers.Main(registry.Name, registry.ConfigFromEnv, rivers.Registers(registry.Register))
//	}
//
// In order, it
//
//   - parses the command line (flag.CommandLine: a service may define its
//     own flags in package main; -version prints the version and exits);
//   - reads the SDK's configuration ([ConfigFromEnv]) and the service's
//     (config, typically its package's ConfigFromEnv), and reports every
//     problem of both at once, each naming its variable, exiting with
//     [ExitConfig] before anything starts;
//   - calls start, which makes the Service with [App.NewService] and
//     registers the service's rivers, handlers and clean-ups on it;
//   - runs the Service on Kafka (see [Service.Run]) until SIGINT or
//     SIGTERM, then stops it gracefully: functions given to [App.Go] are
//     stopped first, then the Service, then the [App.OnStop] functions run
//     within Config.ShutdownTimeout. A second signal kills the process.
//
// It exits with [ExitOK] after a clean stop, [ExitFailure] when starting or
// running failed (the error goes to stderr, prefixed with name).
//
// The version is Config.Version's default: SERVICE_VERSION, else the
// version stamped at build time
// (-ldflags "-X github.com/watershed-grid/watershed/rivers.versionStamp=v1.2.0",
// as deploy/service.Dockerfile and scripts/build.sh do from modules.txt),
// else the build information's module version, else, under go run in a
// checkout, the module's version in modules.txt.
func Main[C any](name string, config func() (C, error), start func(app *App, cfg C) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal is not caught: it kills the process
	}()
	os.Exit(runMain(ctx, name, flag.CommandLine, os.Args[1:], os.Stdout, os.Stderr, config, start))
}

// Registers is the start function of a service whose package registers it
// with register(svc, cfg): rivers.Main(name, pkg.ConfigFromEnv,
// rivers.Registers(pkg.Register)).
func Registers[C any](register func(*Service, C) error) func(*App, C) error {
	return func(app *App, cfg C) error {
		svc, err := app.NewService()
		if err != nil {
			return err
		}
		return register(svc, cfg)
	}
}

// Stopper is what a stateful service's attach function returns: Stopped
// runs after the Service has stopped, with the error it stopped with (nil
// after a clean stop), to write a final checkpoint or close its stores.
type Stopper interface {
	Stopped(ctx context.Context, runErr error) error
}

// Attaches is the start function of a service whose package attaches it
// with attach(svc, cfg) and wants to hear when it stopped:
// rivers.Main(name, pkg.ConfigFromEnv, rivers.Attaches(pkg.Attach)).
func Attaches[C any, S Stopper](attach func(*Service, C) (S, error)) func(*App, C) error {
	return func(app *App, cfg C) error {
		svc, err := app.NewService()
		if err != nil {
			return err
		}
		s, err := attach(svc, cfg)
		if err != nil {
			return err
		}
		app.OnStop(s.Stopped)
		return nil
	}
}

// App is the process [Main] runs, as a service's start function sees it.
// Its methods are meant for the start function only.
type App struct {
	ctx    context.Context
	cfg    Config
	svc    *Service
	stops  []func(context.Context, error) error
	beside []func(context.Context) error
}

// Context is done when the process is told to stop (SIGINT, SIGTERM). Use
// it for what start itself waits on (connecting to a store).
func (a *App) Context() context.Context { return a.ctx }

// Config is the SDK's configuration, read from the environment. Change
// what must differ before calling NewService.
func (a *App) Config() *Config { return &a.cfg }

// NewService makes the process's Service from Config with opts (see
// [NewService]); Main runs it once start returns. Call it once. Its error
// is a configuration error ([ErrConfig]).
func (a *App) NewService(opts ...Option) (*Service, error) {
	if a.svc != nil {
		return nil, errors.New("rivers: App.NewService called twice: a process runs one Service")
	}
	svc, err := NewService(a.cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	a.svc = svc
	return svc, nil
}

// OnStop has f run after the Service has stopped, or after start failed,
// with the error it stopped with (nil after a clean stop) and a ctx bounded
// by Config.ShutdownTimeout: a final checkpoint, closing a client. The
// functions run in the reverse order of the OnStop calls, like defer; their
// errors are reported with the Service's.
func (a *App) OnStop(f func(ctx context.Context, runErr error) error) {
	a.stops = append(a.stops, f)
}

// Go runs f beside the Service, for work that is not a river (a process
// supervisor, a poller). On a signal f's ctx is cancelled first, and the
// Service stops only once every such f has returned, so its heartbeats and
// /readyz keep telling the truth meanwhile; when the Service stops on its
// own, f's ctx is cancelled too. An error of f is a failure of the process.
func (a *App) Go(f func(ctx context.Context) error) {
	a.beside = append(a.beside, f)
}

// runMain is Main without the process around it: it returns the exit code.
func runMain[C any](ctx context.Context, name string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer,
	config func() (C, error), start func(*App, C) error) int {
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitConfig // the flag package has said what is wrong
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q: the service is configured by environment variables (see its README)\n", name, fs.Args())
		return ExitConfig
	}
	if *showVersion {
		fmt.Fprintln(stdout, buildVersion())
		return ExitOK
	}

	rc, rerr := ConfigFromEnv(name, "")
	own, oerr := config()
	if err := errors.Join(rerr, oerr); err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration, nothing started:\n", name)
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "  %s\n", line)
		}
		return ExitConfig
	}

	app := &App{ctx: ctx, cfg: rc}
	err := start(app, own)
	if err == nil && app.svc == nil {
		err = errors.New("rivers: the start function returned without calling App.NewService")
	}
	var runErr error
	if err == nil {
		runErr = app.run(ctx)
		err = runErr
	}
	if serr := app.stopped(err); serr != nil {
		err = errors.Join(err, serr)
	}
	switch {
	case err == nil:
		return ExitOK
	case runErr == nil && errors.Is(err, ErrConfig):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitConfig
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailure
	}
}

// run runs the Service on Kafka, and the App.Go functions beside it.
func (a *App) run(ctx context.Context) error {
	if len(a.beside) == 0 {
		return a.svc.runKafka(ctx)
	}
	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSvc()
	besideCtx, stopBeside := context.WithCancel(ctx)
	defer stopBeside()
	svcDone := make(chan error, 1)
	go func() {
		svcDone <- a.svc.runKafka(svcCtx)
		stopBeside() // without the Service, nothing beside it goes on
	}()
	var wg sync.WaitGroup
	errs := make([]error, len(a.beside))
	for i, f := range a.beside {
		wg.Go(func() {
			if err := f(besideCtx); err != nil && !errors.Is(err, context.Canceled) {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	stopSvc()
	return errors.Join(append(errs, <-svcDone)...)
}

// stopped runs the OnStop functions, last first.
func (a *App) stopped(runErr error) error {
	if len(a.stops) == 0 {
		return nil
	}
	timeout := a.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, f := range slices.Backward(a.stops) {
		errs = append(errs, f(ctx, runErr))
	}
	return errors.Join(errs...)
}
