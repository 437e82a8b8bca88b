package rapids

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// TopicSpec is a topic EnsureTopics creates when it is absent.
type TopicSpec struct {
	Name       string
	Partitions int
	// ReplicationFactor; -1 leaves it to the broker's default.replication.factor.
	ReplicationFactor int
	// Retention is retention.ms: 0 leaves it to the broker, negative keeps
	// records forever.
	Retention time.Duration
	// Configs are further topic configs, e.g. "min.insync.replicas": "2".
	Configs map[string]string
}

// DefaultTopicSpecs returns Watershed's four topics under cfg: the rapids
// (cfg.Partitions partitions), the rivers and both dead-letter topics
// (cfg.RiversPartitions), with cfg's replication factor and retention
// (cfg.DLQRetention for the dead-letter topics).
func DefaultTopicSpecs(cfg Config) []TopicSpec {
	cfg = cfg.WithDefaults()
	spec := func(name string, partitions int, retention time.Duration) TopicSpec {
		return TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: cfg.ReplicationFactor, Retention: retention}
	}
	return []TopicSpec{
		spec(cfg.Topics.Rapids, cfg.Partitions, cfg.Retention),
		spec(cfg.Topics.Rivers, cfg.RiversPartitions, cfg.Retention),
		spec(DLQ(cfg.Topics.Rapids), cfg.RiversPartitions, cfg.DLQRetention),
		spec(DLQ(cfg.Topics.Rivers), cfg.RiversPartitions, cfg.DLQRetention),
	}
}

// EnsureTopics creates the topics of specs that do not exist yet (all of
// DefaultTopicSpecs(cfg) when specs is empty) and leaves existing topics as
// they are, whatever their settings. When the broker refuses to create a
// topic, the error names the topic and carries the broker's error code and
// message, e.g. `rapids: create topic "rapids" (6 partitions, replication
// 3): broker refused: [38] Invalid Replication Factor: ...`.
func EnsureTopics(ctx context.Context, cfg Config, specs ...TopicSpec) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("rapids: ensure topics: %w", err)
	}
	if len(specs) == 0 {
		specs = DefaultTopicSpecs(cfg)
	}
	var errs []error
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		if err := validTopicName(s.Name); err != nil {
			errs = append(errs, fmt.Errorf("rapids: ensure topics: %w", err))
		}
		if s.Partitions < 1 {
			errs = append(errs, fmt.Errorf("rapids: ensure topics: %q: partitions %d, want at least 1", s.Name, s.Partitions))
		}
		names = append(names, s.Name)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	conn, err := newConnection(cfg)
	if err != nil {
		return fmt.Errorf("rapids: ensure topics: %w", err)
	}
	defer conn.close()
	client := &kafka.Client{Addr: conn.addr, Transport: conn.transport, Timeout: cfg.WriteTimeout}

	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return fmt.Errorf("rapids: ensure topics: reading metadata from %v: %w", cfg.Brokers, conn.authError(err))
	}
	exists := make(map[string]bool, len(meta.Topics))
	for _, t := range meta.Topics {
		switch {
		case t.Error == nil:
			exists[t.Name] = true
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
		default:
			return fmt.Errorf("rapids: ensure topics: metadata of %q: %w", t.Name, t.Error)
		}
	}
	var create []kafka.TopicConfig
	byName := make(map[string]TopicSpec)
	for _, s := range specs {
		if exists[s.Name] {
			continue
		}
		byName[s.Name] = s
		create = append(create, s.topicConfig())
	}
	if len(create) == 0 {
		return nil
	}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: create})
	if err != nil {
		return fmt.Errorf("rapids: ensure topics: create %d topics on %v: %w", len(create), cfg.Brokers, conn.authError(err))
	}
	for _, name := range sortedKeys(resp.Errors) {
		terr := resp.Errors[name]
		if terr == nil || errors.Is(terr, kafka.TopicAlreadyExists) {
			continue
		}
		s := byName[name]
		errs = append(errs, fmt.Errorf("rapids: create topic %q (%d partitions, replication %s): broker refused: %w",
			name, s.Partitions, replication(s.ReplicationFactor), terr))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cfg.Logger.Info("rapids: created topics", "topics", len(create), "brokers", cfg.Brokers)
	return nil
}

func (s TopicSpec) topicConfig() kafka.TopicConfig {
	rf := s.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: rf}
	if s.Retention != 0 {
		ms := int64(-1)
		if s.Retention > 0 {
			ms = s.Retention.Milliseconds()
		}
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(ms, 10)})
	}
	for _, k := range sortedKeys(s.Configs) {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: s.Configs[k]})
	}
	return tc
}

func replication(rf int) string {
	if rf <= 0 {
		return "broker default"
	}
	return strconv.Itoa(rf)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// TopicPartitions returns the partition count of each of topics that exists;
// absent topics are left out of the map.
func TopicPartitions(ctx context.Context, cfg Config, topics ...string) (map[string]int, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rapids: topic partitions: %w", err)
	}
	conn, err := newConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("rapids: topic partitions: %w", err)
	}
	defer conn.close()
	client := &kafka.Client{Addr: conn.addr, Transport: conn.transport, Timeout: cfg.WriteTimeout}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("rapids: reading metadata from %v: %w", cfg.Brokers, conn.authError(err))
	}
	out := make(map[string]int, len(meta.Topics))
	for _, t := range meta.Topics {
		switch {
		case t.Error == nil:
			out[t.Name] = len(t.Partitions)
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
		default:
			return nil, fmt.Errorf("rapids: metadata of %q: %w", t.Name, t.Error)
		}
	}
	return out, nil
}
