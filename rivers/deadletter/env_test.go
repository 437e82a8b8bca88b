package deadletter

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
)

// brokers returns the broker of an integration test: WATERSHED_TEST_KAFKA
// (real Apache Kafka) when set, else an embedded broker on 127.0.0.1:0.
func brokers(t *testing.T) rapids.Config {
	t.Helper()
	addr := os.Getenv("WATERSHED_TEST_KAFKA")
	if addr == "" {
		b, err := embedded.Start(context.Background(), embedded.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		addr = b.Addr()
	}
	cfg := rapids.Config{Brokers: []string{addr}, ClientID: "dlq-test",
		// unique topic names, so runs against a shared real broker do not meet
		Topics: rapids.Topics{Rapids: "rapids-" + t.Name() + time.Now().Format("150405.000"),
			Rivers: "rivers-" + t.Name() + time.Now().Format("150405.000")}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rapids.EnsureTopics(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}
