package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Restart describes one restart of a program, as published in
// system.service.restarted.v1.
type Restart struct {
	Program  string        // the program's name in the manifest
	Attempt  int           // consecutive restart number, 1 for the first
	Total    int           // restarts since the supervisor started
	ExitCode int           // exit code of the previous run; -1 when killed by a signal or it never started
	Reason   string        // why the previous run ended, e.g. "exit status 2"
	Backoff  time.Duration // the delay waited before this restart
	OldPID   int           // process id of the previous run (0 if it never started)
	PID      int           // process id of the new run (0 if it failed to start)
	// Instance and PreviousInstance are the SERVICE_INSTANCE values of the
	// new and the previous run: the instance ids their heartbeats carry.
	Instance         string
	PreviousInstance string
	At               time.Time
}

// Options tune a Supervisor. The zero value is valid.
type Options struct {
	// Logger receives lifecycle logs. Default slog.Default().
	Logger *slog.Logger
	// OnRestart is called after a program was restarted. It runs on the
	// program's own goroutine and must not block for long. Default none.
	OnRestart func(ctx context.Context, r Restart)
	// OnGiveUp is called when a program will not be restarted again
	// (policy, or MaxRestarts reached). Default none.
	OnGiveUp func(ctx context.Context, program string, lastErr error)
	// Stdout and Stderr receive the programs' output. Default the
	// supervisor's own stdout and stderr.
	Stdout, Stderr io.Writer
}

// Status is a snapshot of one program.
type Status struct {
	Name     string
	PID      int // 0 when not running
	Running  bool
	Restarts int // since the supervisor started
	GaveUp   bool
	LastExit string
}

// Supervisor runs the programs of a manifest, restarts them by their
// policy, and stops them in reverse order. Methods are safe for concurrent
// use.
type Supervisor struct {
	manifest Manifest
	opts     Options
	log      *slog.Logger
	host     string
	procs    []*proc
}

// New returns a supervisor for the manifest, which is defaulted and validated.
func New(m Manifest, opts Options) (*Supervisor, error) {
	m = m.WithDefaults()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	s := &Supervisor{manifest: m, opts: opts, log: opts.Logger, host: host}
	for _, p := range m.Programs {
		s.procs = append(s.procs, &proc{spec: p, sup: s, loopDone: make(chan struct{})})
	}
	return s, nil
}

// Run starts every program in manifest order and supervises them until ctx
// is cancelled; then it stops them in reverse order (SIGTERM, then SIGKILL
// after each program's stop timeout) and returns nil. A program that fails
// to start is handled like one that crashed.
func (s *Supervisor) Run(ctx context.Context) error {
	for _, p := range s.procs {
		p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
		go p.loop()
	}
	<-ctx.Done()
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	return nil
}

// Status returns a snapshot of every program, in manifest order.
func (s *Supervisor) Status() []Status {
	out := make([]Status, 0, len(s.procs))
	for _, p := range s.procs {
		p.mu.Lock()
		st := Status{Name: p.spec.Name, Restarts: p.total, GaveUp: p.gaveUp, LastExit: p.lastExit}
		if p.cmd != nil && p.cmd.Process != nil && p.running {
			st.PID, st.Running = p.cmd.Process.Pid, true
		}
		p.mu.Unlock()
		out = append(out, st)
	}
	return out
}

type proc struct {
	spec     Program
	sup      *Supervisor
	ctx      context.Context
	cancel   context.CancelFunc
	loopDone chan struct{}

	mu       sync.Mutex
	cmd      *exec.Cmd
	running  bool
	exited   chan struct{}
	total    int
	gaveUp   bool
	lastExit string
	lastErr  error
}

// EnvInstance is the environment variable that gives a run its instance
// id (the rivers SDK reads it); the supervisor sets it to a new value for
// every run unless the manifest sets it.
const EnvInstance = "SERVICE_INSTANCE"

// instanceID returns the instance id of run n of the program.
func (p *proc) instanceID(run int) string {
	if v, ok := p.spec.Env[EnvInstance]; ok {
		return v
	}
	return fmt.Sprintf("%s-%s-%d-%d", p.sup.host, p.spec.Name, os.Getpid(), run)
}

// start launches one run; exited is closed when it ends, with its error.
func (p *proc) start(instance string) (pid int, exited chan struct{}, waitErr *error, err error) {
	argv := p.spec.Argv()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.spec.Dir
	cmd.Env = append(os.Environ(), EnvInstance+"="+instance)
	for k, v := range p.spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = p.sup.opts.Stdout, p.sup.opts.Stderr
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return 0, nil, nil, err
	}
	ch := make(chan struct{})
	var werr error
	p.mu.Lock()
	p.cmd, p.running, p.exited = cmd, true, ch
	p.mu.Unlock()
	go func() {
		werr = cmd.Wait()
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
		close(ch)
	}()
	return cmd.Process.Pid, ch, &werr, nil
}

func (p *proc) loop() {
	defer close(p.loopDone)
	log := p.sup.log.With("program", p.spec.Name)
	attempt := 0
	var delay time.Duration
	oldPID, oldInstance := 0, ""
	for run := 1; ; run++ {
		started := time.Now()
		instance := p.instanceID(run)
		pid, exited, werr, err := p.start(instance)
		if attempt > 0 {
			r := Restart{Program: p.spec.Name, Attempt: attempt, Backoff: delay, OldPID: oldPID, PID: pid, At: started,
				Instance: instance, PreviousInstance: oldInstance}
			p.mu.Lock()
			p.total++
			r.Total = p.total
			r.Reason = p.lastExit
			r.ExitCode = p.lastCode()
			p.mu.Unlock()
			log.Info("program restarted", "attempt", attempt, "pid", pid, "backoff", delay)
			if p.sup.opts.OnRestart != nil {
				p.sup.opts.OnRestart(p.ctx, r)
			}
		}
		var runErr error
		if err != nil {
			runErr = fmt.Errorf("start: %w", err)
			log.Error("program failed to start", "err", err)
		} else {
			log.Info("program started", "pid", pid, "argv", p.spec.Argv())
			select {
			case <-exited:
				runErr = *werr
			case <-p.ctx.Done():
				return // stop() terminates the process
			}
		}
		p.mu.Lock()
		p.lastExit = describeExit(runErr)
		p.lastErr = runErr
		p.mu.Unlock()
		log.Warn("program exited", "pid", pid, "exit", describeExit(runErr))
		if p.ctx.Err() != nil {
			return
		}
		if err == nil && time.Since(started) >= p.spec.StableAfter {
			attempt = 0
		}
		if !p.shouldRestart(runErr, attempt) {
			p.mu.Lock()
			p.gaveUp = true
			p.mu.Unlock()
			log.Warn("program will not be restarted", "policy", p.spec.Restart, "restarts", attempt)
			if p.sup.opts.OnGiveUp != nil {
				p.sup.opts.OnGiveUp(p.ctx, p.spec.Name, runErr)
			}
			return
		}
		attempt++
		delay = p.spec.Backoff.Delay(attempt)
		oldPID, oldInstance = pid, instance
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			return
		}
	}
}

func (p *proc) shouldRestart(runErr error, attempt int) bool {
	switch p.spec.Restart {
	case Never:
		return false
	case OnFailure:
		if runErr == nil {
			return false
		}
	}
	return p.spec.MaxRestarts < 0 || attempt < p.spec.MaxRestarts
}

// lastCode returns the exit code of the last run; p.mu is held.
func (p *proc) lastCode() int {
	var ee *exec.ExitError
	if errors.As(p.lastErr, &ee) {
		return ee.ExitCode()
	}
	if p.lastErr == nil {
		return 0
	}
	return -1
}

// stop ends supervision: no more restarts; the running process gets SIGTERM
// and, after the stop timeout, SIGKILL. It returns when the process is gone.
func (p *proc) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.loopDone
	p.mu.Lock()
	cmd, running, exited := p.cmd, p.running, p.exited
	p.mu.Unlock()
	if cmd == nil || !running {
		return
	}
	log := p.sup.log.With("program", p.spec.Name, "pid", cmd.Process.Pid)
	log.Info("stopping program")
	_ = signalGroup(cmd, terminateSignal)
	t := time.NewTimer(p.spec.StopTimeout)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		log.Warn("program did not stop in time: killing", "stop_timeout", p.spec.StopTimeout)
		_ = signalGroup(cmd, killSignal)
		<-exited
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
