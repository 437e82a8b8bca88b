package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
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
	// ReadIdle: a read takes a topic as read to its end after no record
	// arrived for this long. Default 2s (DLQ_READ_IDLE).
	ReadIdle time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{ReadIdle: 2 * time.Second} }

// ConfigFromEnv reads the DLQ_* variables over the defaults.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	if v, ok := os.LookupEnv("DLQ_TOPICS"); ok && v != "" {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Topics = append(c.Topics, t)
			}
		}
	}
	if v, ok := os.LookupEnv("DLQ_READ_IDLE"); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("DLQ_READ_IDLE=%q: want a duration such as 2s", v)
		}
		c.ReadIdle = d
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

// DefaultTopics returns the dead-letter topics of the rivers and rapids
// topics of cfg.
func DefaultTopics(cfg rapids.Config) []string {
	t := cfg.Topics
	if t.Rivers == "" {
		t.Rivers = "rivers"
	}
	if t.Rapids == "" {
		t.Rapids = "rapids"
	}
	return []string{rapids.DLQ(t.Rivers), rapids.DLQ(t.Rapids)}
}

// Summary is what GET /v1/dlq serves.
type Summary struct {
	Topics  []string `json:"topics"`
	Letters int      `json:"letters"`
	Counts  []Count  `json:"counts"`
}

// Register adds the dead-letter summary to svc: GET /v1/dlq reads the
// dead-letter topics (nothing is committed: reading changes nothing) and
// serves the counts by origin topic, type and error class. Listing single
// letters and replaying them is the CLI's job (`watershed dlq`), where a
// person decides; the service only reports.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	kafka := svc.Config().Kafka
	topics := cfg.Topics
	if len(topics) == 0 {
		topics = DefaultTopics(kafka)
	}
	svc.HandleHTTP("/v1/dlq", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second+cfg.ReadIdle)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		letters, err := Read(ctx, kafka, topics, cfg.ReadIdle)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(Summary{Topics: topics, Letters: len(letters), Counts: Summarize(letters)})
	}))
	return nil
}
