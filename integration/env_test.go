package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
)

// requireEnv returns the value of the variable name. When it is unset the
// test is skipped with the reason, except under CI=true, which always
// provides the servers: there it fails.
func requireEnv(t testing.TB, name, what string) string {
	t.Helper()
	return riverstest.RequireServer(t, name, what)
}

// kafka is the Apache Kafka under test: the testenv broker, or a container
// with the build tag docker.
type kafka struct {
	From    string   // where it comes from: "testenv" or "docker"
	Brokers []string // PLAINTEXT bootstrap addresses
	Version string   // the broker's version, "" when unknown

	// SASL is the SASL_PLAINTEXT listener with its SCRAM user; nil when
	// the broker has none (SASLWhy says why).
	SASL    *saslListener
	SASLWhy string

	// Stop and Start take the broker away and bring it back on the same
	// data; nil when this broker cannot be restarted (RestartWhy says why).
	Stop, Start func(ctx context.Context) error
	RestartWhy  string

	// Kcat is the kcat binary; "" when there is none (KcatWhy says why).
	Kcat    string
	KcatWhy string
}

type saslListener struct {
	Brokers   []string
	Mechanism string
	User      string
	Password  string
}

var announce sync.Once

// realKafka returns the broker under test, logging its version, or skips
// the test (fails under CI) when there is none.
func realKafka(t testing.TB) *kafka {
	t.Helper()
	k := kafkaUnderTest(t)
	version := k.Version
	if version == "" {
		version = "(version unknown)"
	}
	t.Logf("Apache Kafka %s at %s (%s)", version, strings.Join(k.Brokers, ","), k.From)
	announce.Do(func() {
		fmt.Printf("integration: Apache Kafka %s at %s (%s)\n", version, strings.Join(k.Brokers, ","), k.From)
	})
	return k
}

// config returns the rapids configuration of the PLAINTEXT listener.
func (k *kafka) config() rapids.Config {
	return rapids.Config{Brokers: k.Brokers, ClientID: "watershed-integration", Logger: quietLogger()}
}

// saslConfig returns the rapids configuration of the SASL listener, or
// skips the test when there is none.
func (k *kafka) saslConfig(t testing.TB) rapids.Config {
	t.Helper()
	if k.SASL == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no SASL listener: %s", k.SASLWhy)
		}
		t.Skipf("no SASL listener: %s", k.SASLWhy)
	}
	cfg := k.config()
	cfg.Brokers = k.SASL.Brokers
	cfg.SASL = rapids.SASL{Mechanism: k.SASL.Mechanism, Username: k.SASL.User, Password: k.SASL.Password}
	return cfg
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// unique returns prefix with a random suffix, for topic and group names
// that no other run of the suite shares.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// freshTopics returns cfg with unique rapids and rivers topics (and their
// dead-letter topics), created with partitions partitions for the rapids.
func freshTopics(t testing.TB, cfg rapids.Config, partitions int) rapids.Config {
	t.Helper()
	suffix := unique("it")
	cfg.Topics = rapids.Topics{Rapids: "rapids-" + suffix, Rivers: "rivers-" + suffix}
	cfg.Partitions, cfg.RiversPartitions, cfg.ReplicationFactor = partitions, 1, -1
	cfg.Retention, cfg.DLQRetention = time.Hour, time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := rapids.EnsureTopics(ctx, cfg); err != nil {
		t.Fatalf("creating topics %s on %v: %v", suffix, cfg.Brokers, err)
	}
	return cfg
}

// report writes counts to the test log and as one plain line to stdout, so
// they show in CI logs without -v.
func report(t testing.TB, what string, kv ...any) {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	t.Logf("%s:%s", what, b.String())
	fmt.Printf("integration: %s:%s\n", what, b.String())
}
