package rivers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/watershed-grid/watershed/rapids"
)

// Run runs the service on Kafka (Config.Kafka) until ctx is done or the
// process receives SIGTERM or SIGINT, then stops gracefully (see
// [Service.Serve]). It creates the topics when they are missing (unless
// Config.SkipEnsureTopics), serves /healthz, /readyz and /metrics on
// Config.HTTPAddr, and returns nil after a clean stop.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			cancel(fmt.Errorf("signal %v", sig))
		case <-ctx.Done():
		}
	}()
	return s.runKafka(ctx)
}

// runKafka is Run without the signals: ctx alone says when to stop.
func (s *Service) runKafka(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	kcfg := s.cfg.Kafka
	kcfg.Logger = s.log.With("component", "kafka")
	if !s.cfg.SkipEnsureTopics {
		ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
		err := rapids.EnsureTopics(ectx, kcfg, s.topicSpecs(kcfg)...)
		ecancel()
		if err != nil {
			return fmt.Errorf("rivers: create topics (KAFKA_BROKERS=%v; set ENSURE_TOPICS=false where topics are managed elsewhere): %w",
				kcfg.Brokers, err)
		}
	}
	start := rapids.Earliest
	if s.cfg.StartOffset == "latest" {
		start = rapids.Latest
	}
	tr, err := NewKafkaTransport(kcfg, rapids.WithStartOffset(start))
	if err != nil {
		return fmt.Errorf("rivers: kafka: %w", err)
	}
	defer tr.Close()

	var srv *http.Server
	httpErr := make(chan error, 1)
	if s.cfg.HTTPAddr != "off" {
		ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("rivers: HTTP_ADDR %s: %w", s.cfg.HTTPAddr, err)
		}
		s.log.Info("http listening", "addr", ln.Addr().String())
		srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				httpErr <- err
				cancel(fmt.Errorf("http server: %w", err))
			}
		}()
	}
	err = s.Serve(ctx, tr)
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	select {
	case herr := <-httpErr:
		err = errors.Join(err, fmt.Errorf("rivers: http: %w", herr))
	default:
	}
	return err
}

// topicSpecs are the topics Run makes sure exist: Watershed's four, and the
// dead-letter topic of every other topic a river reads.
func (s *Service) topicSpecs(kcfg rapids.Config) []rapids.TopicSpec {
	specs := rapids.DefaultTopicSpecs(kcfg)
	have := map[string]bool{}
	for _, sp := range specs {
		have[sp.Name] = true
	}
	var dlq rapids.TopicSpec // the rivers' dead-letter topic: its settings
	for _, sp := range specs {
		if sp.Name == rapids.DLQ(s.cfg.Kafka.Topics.Rivers) {
			dlq = sp
		}
	}
	for _, t := range s.Topics() {
		if name := rapids.DLQ(t); !have[name] {
			sp := dlq
			sp.Name = name
			specs = append(specs, sp)
			have[name] = true
		}
	}
	return specs
}
