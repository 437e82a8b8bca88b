package rapids_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/rapidstest"
)

func quietLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

func TestConformanceEmbedded(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir)
	restart := func(t *testing.T) []string {
		if err := b.Close(); err != nil {
			t.Fatalf("closing the broker: %v", err)
		}
		b = startBroker(t, dir)
		return []string{b.Addr()}
	}
	rapidstest.RunConformance(t, []string{b.Addr()},
		rapidstest.WithRestart(restart),
		rapidstest.WithConfig(func(brokers []string) rapids.Config {
			return rapids.Config{Brokers: brokers, Logger: quietLogger()}
		}))
}

// TestConformanceKafka runs the suite against the real Apache Kafka of
// WATERSHED_TEST_KAFKA. Its restart test runs when
// WATERSHED_TEST_KAFKA_RESTART names a command that restarts that broker
// keeping its data.
func TestConformanceKafka(t *testing.T) {
	addr := requireEnv(t, "WATERSHED_TEST_KAFKA", "real Apache Kafka")
	brokers := strings.Split(addr, ",")
	opts := []rapidstest.Option{rapidstest.WithConfig(func(b []string) rapids.Config {
		return rapids.Config{Brokers: b, Logger: quietLogger()}
	})}
	if cmd := restartCommand(); cmd != nil {
		opts = append(opts, rapidstest.WithRestart(func(t *testing.T) []string {
			if out, err := cmd().CombinedOutput(); err != nil {
				t.Fatalf("restarting Kafka: %v\n%s", err, out)
			}
			return brokers
		}))
	}
	rapidstest.RunConformance(t, brokers, opts...)
}
