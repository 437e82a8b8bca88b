package integration

import (
	"context"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/rapidstest"
)

// TestIntegrationConformance runs the rapids conformance suite against the
// real broker, including persistence of records and committed offsets
// across a broker restart (kafka.sh stop, then start, on the same data).
func TestIntegrationConformance(t *testing.T) {
	k := realKafka(t)
	opts := []rapidstest.Option{
		rapidstest.WithTimeout(90 * time.Second),
		rapidstest.WithConfig(func(brokers []string) rapids.Config {
			cfg := k.config()
			cfg.Brokers = brokers
			return cfg
		}),
	}
	if k.Stop != nil {
		opts = append(opts, rapidstest.WithRestart(func(t *testing.T) []string {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			if err := k.Stop(ctx); err != nil {
				t.Fatalf("stopping Kafka: %v", err)
			}
			if err := k.Start(ctx); err != nil {
				t.Fatalf("starting Kafka: %v", err)
			}
			return k.Brokers
		}))
	} else {
		t.Logf("RestartPersistence skipped: %s", k.RestartWhy)
	}
	rapidstest.RunConformance(t, k.Brokers, opts...)
}
