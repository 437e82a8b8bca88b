// Package ecosystem runs a set of Watershed services in one process, each
// on the rivers SDK against one broker, restarting any that crashes with a
// capped backoff. It is what `watershed dev` and the end-to-end tests use;
// in production every service runs as its own process.
package ecosystem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// Member is one service of the ecosystem.
type Member struct {
	// Name is the service name (rivers.Config.Name).
	Name string
	// Version is the service's version, as its heartbeats report it.
	Version string
	// Setup registers the service's rivers, timers and publications on a
	// freshly built service. It is called again on every restart.
	Setup func(svc *rivers.Service) error
	// Configure, when set, adjusts the member's rivers.Config after the
	// ecosystem filled it (tests shorten heartbeat intervals with it).
	Configure func(cfg *rivers.Config)
	// Serve, when set, runs the freshly built and set-up service instead of
	// svc.Run (no HTTP server, no signals): tests serve a member over a
	// transport they control. It returns when ctx ends, like Run.
	Serve func(ctx context.Context, svc *rivers.Service) error
	// Stopped, when set, is called once the service stopped (Run or Serve
	// returned runErr): a stateful member saves its final state.
	Stopped func(ctx context.Context, runErr error) error
}

// Options configure an Ecosystem. Zero fields take the documented defaults.
type Options struct {
	// Kafka is the broker connection every member uses. Required.
	Kafka rapids.Config
	// HTTPHost is the interface members' HTTP servers listen on.
	// Default 127.0.0.1.
	HTTPHost string
	// HTTPPort is the port of the first member; member i listens on
	// HTTPPort+i. Zero picks free ports.
	HTTPPort int
	// MinBackoff and MaxBackoff bound the wait before a crashed member is
	// restarted; it doubles on each consecutive crash. Defaults 500ms, 30s.
	MinBackoff, MaxBackoff time.Duration
	// StableAfter is how long a member must run before its backoff resets.
	// Default 1m.
	StableAfter time.Duration
	// Logger receives the ecosystem's own log lines. Default slog.Default().
	Logger *slog.Logger
	// ServiceLogger is the logger handed to every member, with a
	// "service" attribute. Default: Logger.
	ServiceLogger *slog.Logger
}

// Status is a member's state, as `watershed dev` prints it.
type Status struct {
	Name     string
	Version  string
	HTTPAddr string // host:port of /healthz, /readyz and /metrics
	Running  bool
	Restarts int
	LastErr  string
}

// Ecosystem runs members until its context ends.
type Ecosystem struct {
	opts    Options
	members []Member

	host string

	mu     sync.Mutex
	status map[string]*Status
}

// New returns an ecosystem of members. Member names must be unique.
func New(opts Options, members ...Member) (*Ecosystem, error) {
	if len(opts.Kafka.Brokers) == 0 {
		return nil, errors.New("ecosystem: Options.Kafka.Brokers is empty")
	}
	if opts.HTTPHost == "" {
		opts.HTTPHost = "127.0.0.1"
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.StableAfter <= 0 {
		opts.StableAfter = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ServiceLogger == nil {
		opts.ServiceLogger = opts.Logger
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	e := &Ecosystem{opts: opts, members: members, host: host, status: map[string]*Status{}}
	for i, m := range members {
		if m.Name == "" || m.Setup == nil {
			return nil, fmt.Errorf("ecosystem: member %d needs a Name and a Setup", i)
		}
		if _, dup := e.status[m.Name]; dup {
			return nil, fmt.Errorf("ecosystem: member %q listed twice", m.Name)
		}
		addr, err := e.httpAddr(i)
		if err != nil {
			return nil, fmt.Errorf("ecosystem: %s: %w", m.Name, err)
		}
		e.status[m.Name] = &Status{Name: m.Name, Version: m.Version, HTTPAddr: addr}
	}
	return e, nil
}

// httpAddr reserves the member's HTTP address up front so it can be printed
// before the member starts and stays the same across restarts.
func (e *Ecosystem) httpAddr(i int) (string, error) {
	if e.opts.HTTPPort > 0 {
		return net.JoinHostPort(e.opts.HTTPHost, strconv.Itoa(e.opts.HTTPPort+i)), nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(e.opts.HTTPHost, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Run starts every member and blocks until ctx ends, then waits for all of
// them to stop gracefully. It returns nil after a clean stop.
func (e *Ecosystem) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, m := range e.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every goroutine the member starts carries its name, so one
			// profile of the process splits by service:
			// go tool pprof -tagfocus service=hot-pond, or -tags.
			pprof.Do(ctx, pprof.Labels("service", m.Name), func(ctx context.Context) {
				e.supervise(ctx, m)
			})
		}()
	}
	wg.Wait()
	return nil
}

// Statuses returns every member's state, sorted by name.
func (e *Ecosystem) Statuses() []Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Status, 0, len(e.status))
	for _, s := range e.status {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (e *Ecosystem) supervise(ctx context.Context, m Member) {
	log := e.opts.Logger.With("service", m.Name)
	backoff := e.opts.MinBackoff
	for {
		started := time.Now()
		e.update(m.Name, func(s *Status) { s.Running = true })
		err := e.runOnce(ctx, m)
		e.update(m.Name, func(s *Status) {
			s.Running = false
			if err != nil {
				s.LastErr = err.Error()
			}
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) >= e.opts.StableAfter {
			backoff = e.opts.MinBackoff
		}
		if err == nil {
			err = errors.New("stopped on its own")
		}
		log.Error("service crashed; restarting", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, e.opts.MaxBackoff)
		e.update(m.Name, func(s *Status) { s.Restarts++ })
	}
}

// runOnce builds a fresh service, registers the member on it and runs it.
// A panic in Setup or Run is a crash like any other error.
func (e *Ecosystem) runOnce(ctx context.Context, m Member) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	cfg := rivers.Config{
		Name:    m.Name,
		Version: m.Version,
		// Members share one process, so the SDK's "<host>-<pid>" default
		// would make them one instance to the registry and the heartbeat
		// monitor; each run is its own instance, as a restarted process is.
		Instance: fmt.Sprintf("%s-%s-%d-%d", e.host, m.Name, os.Getpid(), e.statusOf(m.Name).Restarts),
		Kafka:    e.opts.Kafka,
		HTTPAddr: e.statusOf(m.Name).HTTPAddr,
		// Topics were created once by the caller; members skip the round trip.
		SkipEnsureTopics: true,
	}
	if m.Configure != nil {
		m.Configure(&cfg)
	}
	svc, err := rivers.NewService(cfg, rivers.WithLogger(e.opts.ServiceLogger.With("service", m.Name)))
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if err := m.Setup(svc); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if m.Serve != nil {
		err = m.Serve(ctx, svc)
	} else {
		err = svc.Run(ctx)
	}
	if m.Stopped != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if serr := m.Stopped(sctx, err); serr != nil {
			err = errors.Join(err, fmt.Errorf("after stop: %w", serr))
		}
	}
	return err
}

func (e *Ecosystem) statusOf(name string) Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return *e.status[name]
}

func (e *Ecosystem) update(name string, f func(*Status)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e.status[name])
}
