package supervisor

import (
	"context"
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name.
const Name = "supervisor"

// EnvManifest names the variable holding the manifest's path.
const EnvManifest = "SUPERVISOR_MANIFEST"

// Config is the supervisor service's configuration.
type Config struct {
	// Manifest is the path of the YAML manifest (SUPERVISOR_MANIFEST, or
	// the --manifest flag). Required.
	Manifest string
}

// ConfigFromEnv reads SUPERVISOR_MANIFEST.
func ConfigFromEnv() (Config, error) {
	var c Config
	r := env.New()
	r.String(EnvManifest, &c.Manifest)
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate reports a missing manifest path.
func (c Config) Validate() error {
	if c.Manifest == "" {
		return errors.New(EnvManifest + " is not set: give the path of the YAML manifest (or --manifest)")
	}
	return nil
}

// RestartedPayload returns the system.service.restarted.v1 payload of r.
// The program's manifest name is taken as the service's name.
func RestartedPayload(r Restart) events.ServiceRestarted {
	p := events.ServiceRestarted{Service: r.Program, Instance: r.Instance, PreviousInstance: r.PreviousInstance,
		Reason: r.Reason, Attempt: max(r.Attempt, 1), BackoffSeconds: r.Backoff.Seconds(), RestartedAt: r.At.UTC()}
	if p.Reason == "" {
		p.Reason = "exited"
	}
	if r.ExitCode >= 0 {
		code := r.ExitCode
		p.ExitCode = &code
	}
	return p
}

// Register builds the supervisor of the manifest at cfg.Manifest with svc
// as its voice: every restart is published as system.service.restarted.v1
// (keyed by the program's name) through svc, which must be running
// (svc.Run) for the events to go out. opts.OnRestart, when set, is called
// too. The caller runs the returned Supervisor next to the service.
func Register(svc *rivers.Service, cfg Config, opts Options) (*Supervisor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := LoadManifest(cfg.Manifest)
	if err != nil {
		return nil, err
	}
	return NewPublishing(svc, m, opts)
}

// NewPublishing is [New] with every restart published through svc as
// system.service.restarted.v1 (see [Register]).
func NewPublishing(svc *rivers.Service, m Manifest, opts Options) (*Supervisor, error) {
	svc.Publishes(events.TypeServiceRestarted)
	next := opts.OnRestart
	log := svc.Logger()
	opts.OnRestart = func(ctx context.Context, r Restart) {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := svc.Publish(pctx, events.TypeServiceRestarted, RestartedPayload(r), rivers.WithKey(r.Program)); err != nil {
			log.Error("restart not published", "program", r.Program, "instance", r.Instance, "error", err)
		}
		if next != nil {
			next(ctx, r)
		}
	}
	if opts.Logger == nil {
		opts.Logger = log
	}
	s, err := New(m, opts)
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	return s, nil
}
