package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name.
const Name = "dlq-replayer"

// Config is the dlq-replayer service's configuration.
type Config struct {
	// Topics are the dead-letter topics summarized. Default: the rivers and
	// rapids topics' ".dlq" topics, from the service's Kafka configuration
	// (DLQ_TOPICS, comma-separated).
	Topics []string
	// ReadIdle: a read reads to the end offsets taken when it starts; it
	// takes the rest of a partition as holding no record (compacted away,
	// transaction markers) after no record arrived for this long. Default
	// 2s (DLQ_READ_IDLE).
	ReadIdle time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{ReadIdle: 2 * time.Second} }

// ConfigFromEnv reads the DLQ_* variables over the defaults.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	var topics []string
	r.List("DLQ_TOPICS", &topics)
	c.Topics = append(c.Topics, topics...)
	r.Duration("DLQ_READ_IDLE", &c.ReadIdle)
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate reports invalid values, naming the variable.
func (c Config) Validate() error {
	var errs []error
	if c.ReadIdle <= 0 {
		errs = append(errs, fmt.Errorf("DLQ_READ_IDLE=%s: must be positive", c.ReadIdle))
	}
	for _, t := range c.Topics {
		if !strings.HasSuffix(t, rapids.DLQSuffix) {
			errs = append(errs, fmt.Errorf("DLQ_TOPICS: %q is not a dead-letter topic (want a name ending in %s)", t, rapids.DLQSuffix))
		}
	}
	return errors.Join(errs...)
}

// Summary is what GET /v1/dlq serves: the counts of one page of letters.
type Summary struct {
	Topics  []string `json:"topics"`
	Letters int      `json:"letters"` // letters in this page
	Counts  []Count  `json:"counts"`  // of this page's letters
	// Next is the cursor of the next page (GET /v1/dlq?cursor=...); absent
	// on the last page, which ends at the end offsets taken when it was read.
	Next string `json:"next,omitempty"`
}

// Page sizes of GET /v1/dlq.
const (
	DefaultPageLimit = 1000
	MaxPageLimit     = 10000
)

// Register adds the dead-letter summary to svc: GET /v1/dlq reads one page
// of the dead-letter topics (?limit=, default 1000, at most 10000;
// ?cursor= from the previous page's "next") and serves its counts by
// origin topic, type and error class. Nothing is committed: reading changes
// nothing. Other methods get 405. Listing single letters and replaying them
// is the CLI's job (`watershed dlq`), where a person decides; the service
// only reports.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	kafka := svc.Config().Kafka
	topics := cfg.Topics
	if len(topics) == 0 {
		topics = DefaultTopics(kafka)
	}
	svc.HandleHTTP("/v1/dlq", Handler(kafka, topics, cfg.ReadIdle))
	return nil
}

// Handler serves GET /v1/dlq for topics (see [Register]).
func Handler(kafka rapids.Config, topics []string, idle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fail := func(code int, msg string) {
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			fail(http.StatusMethodNotAllowed, r.Method+" is not allowed: /v1/dlq only reads (GET)")
			return
		}
		limit := DefaultPageLimit
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxPageLimit {
				fail(http.StatusBadRequest, "limit: want 1 to "+strconv.Itoa(MaxPageLimit))
				return
			}
			limit = n
		}
		cursor, err := ParseCursor(r.URL.Query().Get("cursor"))
		if err != nil {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second+idle)
		defer cancel()
		page, err := ReadPage(ctx, kafka, topics, idle, cursor, limit)
		if err != nil {
			fail(http.StatusBadGateway, err.Error())
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(Summary{Topics: topics, Letters: len(page.Letters), Counts: Summarize(page.Letters), Next: page.Next.String()})
	})
}
