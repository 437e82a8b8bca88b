package hotpond

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/watershed-grid/watershed/rivers/env"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name.
const Name = "hot-pond"

// EnvDedup turns the Redis duplicate store off (HOT_POND_DEDUP=false).
const EnvDedup = "HOT_POND_DEDUP"

// Config configures the hot pond service.
type Config struct {
	// Redis is the connection (REDIS_URL, REDIS_USERNAME, REDIS_PASSWORD,
	// REDIS_TLS_*; see ponds/hot.Config). Default redis://127.0.0.1:6379/0.
	Redis hot.Config
	// Dedup makes [HotPond.DedupStore] return the Redis duplicate store
	// (SET NX with expiry), shared by every replica. Default true
	// (HOT_POND_DEDUP).
	Dedup bool
	// KeyPrefix starts every key. Default "ws:".
	KeyPrefix string
	// WindowRetention bounds how long a reading stays in its meter's
	// recent window after it is written (and keeps readings without a
	// use-by that long after read_at). Default 48h
	// (HOT_POND_WINDOW_RETENTION). watershed dev sets 30s: its grid clock
	// runs 900 times faster than Redis' clock.
	WindowRetention time.Duration
	// APIToken is the bearer token the read API (/v1/*) requires
	// (HOTPOND_API_TOKEN, at least 16 characters). Default none: the API
	// then serves loopback clients only.
	APIToken string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Dedup: true, KeyPrefix: hot.DefaultKeyPrefix, WindowRetention: hot.DefaultWindowRetention}
}

// EnvWindowRetention sets Config.WindowRetention.
const EnvWindowRetention = "HOT_POND_WINDOW_RETENTION"

// ConfigFromEnv reads REDIS_* and HOT_POND_DEDUP over the defaults.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	var err error
	c.Redis, err = hot.ConfigFromEnv()
	r.Add(err)
	r.Bool(EnvDedup, &c.Dedup)
	r.Duration(EnvWindowRetention, &c.WindowRetention)
	if c.WindowRetention <= 0 {
		r.Problem(EnvWindowRetention, "%s: use a positive duration such as 48h", c.WindowRetention)
	}
	// Not through the reader: set but empty is a mistake of its own, and
	// the token is never repeated in an error.
	if v, set := os.LookupEnv(EnvAPIToken); set {
		if err := validToken(v); err != nil {
			r.Add(err)
		}
		c.APIToken = v
	}
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks the Redis settings and the API token, naming the
// variable at fault.
func (c Config) Validate() error {
	if c.APIToken != "" {
		if err := validToken(c.APIToken); err != nil {
			return err
		}
	}
	return c.Redis.Validate()
}

// HotPond is the service: it writes each meter.reading.v1 of the rapids
// into the Redis hot pond and serves it over HTTP.
type HotPond struct {
	cfg    Config
	client *redis.Client
	pond   *hot.Pond
}

// New connects lazily to Redis (nothing is sent until the first command,
// so a Redis that is down makes the service unready, not fail to start).
func New(cfg Config) (*HotPond, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := hot.NewClient(cfg.Redis)
	if err != nil {
		return nil, err
	}
	return &HotPond{cfg: cfg, client: c, pond: hot.New(c, &hot.Options{KeyPrefix: cfg.KeyPrefix, WindowRetention: cfg.WindowRetention})}, nil
}

// DedupStore returns the SDK's duplicate store on Redis, for
// rivers.WithDedupStore, or nil when Config.Dedup is false.
func (h *HotPond) DedupStore() rivers.DedupStore {
	if !h.cfg.Dedup {
		return nil
	}
	return hot.NewDedupStore(h.client, &hot.DedupOptions{KeyPrefix: h.cfg.KeyPrefix})
}

// Pond returns the hot pond the service writes.
func (h *HotPond) Pond() *hot.Pond { return h.pond }

// Close closes the Redis connection.
func (h *HotPond) Close() error { return h.client.Close() }

// Register builds a HotPond of cfg and registers it on svc. The service
// keeps the SDK's in-memory duplicate store; main passes the Redis one
// (HotPond.DedupStore) to rivers.NewService.
func Register(svc *rivers.Service, cfg Config) error {
	h, err := New(cfg)
	if err != nil {
		return err
	}
	return h.Register(svc)
}

// Register adds the river (meter.reading.v1 on the rapids, stage 1), the
// readiness check "redis" and the read API (see [HotPond.API]).
func (h *HotPond) Register(svc *rivers.Service) error {
	rivers.HandleBatch(svc, rivers.NewRiver(events.TypeMeterReading).Named("hot-pond").OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags"), h.handle)
	svc.CheckReady("redis", func(ctx context.Context) error { return h.client.Ping(ctx).Err() })
	svc.HandleHTTP("/v1/*", h.API())
	return nil
}

// API is the read API, behind Config.APIToken (see requireToken):
//
//	GET /v1/meters/{id}/latest
//	GET /v1/meters/{id}/window?from=RFC3339&to=RFC3339   (default: the last 24h)
//	GET /v1/transformers/{id}
//	GET /v1/feeders/{id}
func (h *HotPond) API() http.Handler {
	r := chi.NewRouter()
	r.Get("/v1/meters/{id}/latest", h.latest)
	r.Get("/v1/meters/{id}/window", h.window)
	r.Get("/v1/transformers/{id}", h.view(h.pond.Transformer))
	r.Get("/v1/feeders/{id}", h.view(h.pond.Feeder))
	return requireToken(h.cfg.APIToken, r)
}

// handle writes a batch of readings in one pipelined round trip,
// idempotent by (read_at, event id). The SDK has validated and decoded each
// reading once; the pond stores them as they are. It commits the offsets
// after handle returns, so the writes are durable in Redis first; a Redis
// failure is retried by the SDK.
func (h *HotPond) handle(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	rs := make([]hot.ReadingEvent, b.Len())
	for i := range rs {
		e := b.Event(i)
		rs[i] = hot.ReadingEvent{EventID: e.ID(), ExpiryTime: e.ExpiryTime(), Reading: *b.Value(i)}
	}
	_, err := h.pond.WriteReadings(ctx, rs)
	return err
}

func (h *HotPond) latest(w http.ResponseWriter, r *http.Request) {
	rd, err := h.pond.Latest(r.Context(), chi.URLParam(r, "id"))
	reply(w, rd, err)
}

func (h *HotPond) window(w http.ResponseWriter, r *http.Request) {
	to, from := time.Now(), time.Time{}
	var err error
	if v := r.URL.Query().Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			http.Error(w, "to: want an RFC 3339 time", http.StatusBadRequest)
			return
		}
	}
	from = to.Add(-24 * time.Hour)
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			http.Error(w, "from: want an RFC 3339 time", http.StatusBadRequest)
			return
		}
	}
	rs, err := h.pond.Window(r.Context(), chi.URLParam(r, "id"), from, to)
	if rs == nil && err == nil {
		rs = []hot.Reading{}
	}
	reply(w, rs, err)
}

func (h *HotPond) view(read func(context.Context, string) ([]hot.Reading, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rs, err := read(r.Context(), chi.URLParam(r, "id"))
		if rs == nil && err == nil {
			rs = []hot.Reading{}
		}
		reply(w, rs, err)
	}
}

func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case errors.Is(err, hot.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case errors.Is(err, hot.ErrRange):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
