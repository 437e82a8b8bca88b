package rivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// checkTimeout bounds one readiness check.
const checkTimeout = 2 * time.Second

func (s *Service) routes() *chi.Mux {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	r.Get("/readyz", s.serveReadyz)
	r.Handle("/metrics", promhttp.HandlerFor(s.tel.registry, promhttp.HandlerOpts{}))
	return r
}

// Ready returns nil when the service is ready to work: it is serving, its
// consumer has its partitions, its publications reach the broker, and every
// [Service.CheckReady] check passes.
// Otherwise the error says what is not ready.
func (s *Service) Ready(ctx context.Context) error {
	_, err := s.readiness(ctx)
	return err
}

func (s *Service) readiness(ctx context.Context) (map[string]string, error) {
	results := map[string]string{}
	var errs []error
	note := func(name string, err error) {
		if err != nil {
			results[name] = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		} else {
			results[name] = "ok"
		}
	}
	if !s.serving.Load() {
		note("service", errors.New("not serving"))
	} else {
		note("service", nil)
	}
	if rt := s.runtimeRef(); rt != nil {
		if r, ok := rt.sub.(ReadinessChecker); ok && rt.sub != nil {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			note("consumer", r.Ready(cctx))
			cancel()
		}
		note("producer", rt.send.health())
	}
	s.mu.Lock()
	checks := slices.Clone(s.checks)
	s.mu.Unlock()
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		note(c.name, c.fn(cctx))
		cancel()
	}
	return results, errors.Join(errs...)
}

type readyzBody struct {
	Ready      bool              `json:"ready"`
	Checks     map[string]string `json:"checks"`
	Retired    []string          `json:"retired"`
	Retiring   []Retiring        `json:"retiring,omitempty"`
	LagRecords int64             `json:"lag_records"`
	Service    string            `json:"service"`
	Version    string            `json:"version"`
	Instance   string            `json:"instance"`
}

func (s *Service) serveReadyz(w http.ResponseWriter, r *http.Request) {
	checks, err := s.readiness(r.Context())
	retired, all := s.retire.list(s.clock.Now())
	body := readyzBody{Ready: err == nil, Checks: checks, Retired: retired, Retiring: all,
		Service: s.cfg.Name, Version: s.cfg.Version, Instance: s.cfg.Instance}
	if body.Retired == nil {
		body.Retired = []string{}
	}
	if rt := s.runtimeRef(); rt != nil && rt.sub != nil {
		body.LagRecords = lagOf(rt.sub)
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}
