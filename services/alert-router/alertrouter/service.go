package alertrouter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
)

// Options are what a caller can put in place of the defaults; the zero
// value means: the store ALERT_STORE names, the system clock, the DLQ
// sizes from the service's brokers, http.DefaultClient's transport, and
// the process environment.
type Options struct {
	// Store replaces the store Config.Store names.
	Store Store
	// Now is the clock of the HTTP API (silences); the handlers and timers
	// use the service's clock. Default time.Now.
	Now func() time.Time
	// DLQSizer replaces the read of the dead-letter topics' end offsets.
	DLQSizer DLQSizer
	// HTTPClient sends webhook and Slack deliveries. Default: a client
	// whose requests are bounded by ALERT_DELIVERY_TIMEOUT.
	HTTPClient *http.Client
	// Getenv reads the variables the rules name (secret_env, url_env...).
	// Default os.Getenv.
	Getenv func(string) string
	// RedisURL, when set, replaces REDIS_URL for the redis store (`watershed
	// dev` passes the Redis it started).
	RedisURL string
}

// Service is the alert-router attached to a rivers.Service.
type Service struct {
	Router *Router
	Rules  *Rules
	close  func() error
}

// Close releases the store's connection.
func (s *Service) Close() error {
	if s.close != nil {
		return s.close()
	}
	return nil
}

// Attach loads the rules, opens the store, loads the state and registers
// the alert-router's rivers (one per subscribed type), timers and HTTP API
// on svc. A bad rules file fails here, with what to fix.
func Attach(svc *rivers.Service, cfg Config, opts Options) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rules, err := LoadRules(cfg.RulesFile, cfg)
	if err != nil {
		return nil, err
	}
	log := svc.Logger()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: cfg.DeliveryTimeout}
	}
	senders, err := newSenders(rules.Receivers, cfg, opts.HTTPClient, opts.Now, opts.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvRulesFile, err)
	}
	s := &Service{Rules: rules}
	store := opts.Store
	if store == nil {
		switch cfg.Store {
		case StoreMemory:
			log.Warn("alert-router: ALERT_STORE=memory: a restart forgets alerts, silences and deliveries")
			store = NewMemoryStore()
		default:
			rc, err := hot.ConfigFromEnv()
			if err != nil {
				return nil, err
			}
			if opts.RedisURL != "" {
				rc.URL = opts.RedisURL
			}
			client, err := hot.NewClient(rc)
			if err != nil {
				return nil, err
			}
			s.close = client.Close
			store = NewRedisStore(client, cfg.RedisPrefix)
		}
	}
	m, err := newMetrics(svc.Meter())
	if err != nil {
		return nil, fmt.Errorf("alert-router: metrics: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := newRouter(ctx, cfg, rules, store, senders, log, m)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := r.gauges(svc.Meter()); err != nil {
		return nil, fmt.Errorf("alert-router: metrics: %w", err)
	}
	s.Router = r
	if secret := opts.Getenv(EnvWebhookSecret); cfg.WebhookURL != "" && secret == "" {
		log.Warn("alert-router: ALERT_WEBHOOK_URL is set without ALERT_WEBHOOK_SECRET: its deliveries are not signed")
	}
	if u := rules.UnknownTypes(); len(u) > 0 {
		log.Info("alert-router: subscribing to types the contracts catalog does not know yet", "types", u)
	}
	for _, typ := range rules.Types() {
		paths := rules.Paths(typ)
		river := rivers.NewRiver(typ).Named(typ).Interested(paths...)
		svc.Handle(river, func(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
			return s.handle(ctx, ev, paths)
		})
	}
	svc.Every(cfg.Tick, "dispatch", func(ctx context.Context, now time.Time, _ rivers.Publisher) error {
		if err := r.Tick(ctx, now); err != nil {
			log.Error("alert-router: dispatch failed; next tick tries again", "err", err)
		}
		if err := r.Deliver(ctx, now); err != nil {
			log.Error("alert-router: recording deliveries failed; next tick tries again", "err", err)
		}
		return nil // a tick is not retried: the next one is
	})
	sizer := opts.DLQSizer
	if sizer == nil && len(svc.Config().Kafka.Brokers) > 0 {
		sizer = KafkaDLQSizer(svc.Config().Kafka)
	}
	topics := cfg.DLQTopics
	if len(topics) == 0 {
		kt := svc.Config().Kafka.WithDefaults().Topics
		topics = []string{kt.Rivers + ".dlq", kt.Rapids + ".dlq"}
	}
	if cfg.DLQInterval > 0 && sizer != nil {
		svc.Every(cfg.DLQInterval, "dlq-watch", func(ctx context.Context, now time.Time, _ rivers.Publisher) error {
			sizes, err := sizer(ctx, topics)
			if err != nil {
				log.Warn("alert-router: cannot read the dead-letter topics' sizes", "topics", topics, "err", err)
				return nil
			}
			return r.WatchDLQ(ctx, now, sizes)
		})
	}
	svc.HandleHTTP("/v1/*", Routes(r, opts.Now))
	return s, nil
}

// handle reads the declared fields of an event and hands it to the router.
func (s *Service) handle(ctx context.Context, ev rivers.Event, paths []string) error {
	fields := make(map[string]string, len(paths))
	for _, p := range paths {
		raw, err := ev.Raw(p)
		if errors.Is(err, rivers.ErrMissingKey) {
			continue
		}
		if err != nil {
			return err
		}
		fields[LabelForPath(p)] = labelValue(raw)
	}
	env := ev.Envelope() // forwarded to receivers as it is
	in := Input{ID: ev.ID(), Type: ev.Type(), Source: ev.Source(), Subject: ev.Subject(),
		Time: ev.OccurredAt(), Fields: fields, Data: json.RawMessage(env.Data)}
	err := s.Router.Observe(ctx, rivers.Now(ctx), in)
	if errors.Is(err, ErrKeyMissing) {
		return rivers.Permanent(err) // dead-lettered: retrying cannot add the field
	}
	return err // a store failure: retried, then dead-lettered, replayable
}

// labelValue is a JSON value as a label: strings unquoted, anything else
// as compact JSON.
func labelValue(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}
