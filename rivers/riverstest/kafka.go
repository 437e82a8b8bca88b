package riverstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
)

// quiet logs the broker's and client's warnings and errors only.
var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// EnvKafka names the variable holding a real Kafka's bootstrap address
// ("127.0.0.1:19092"), set by scripts/testenv/up.sh.
const EnvKafka = "WATERSHED_TEST_KAFKA"

// Target is a broker an integration test runs against.
type Target struct {
	Name  string        // "embedded" or "kafka"
	Kafka rapids.Config // brokers and fresh, unique topic names
}

// Kafkas returns the brokers an integration test runs against, each with
// its own freshly created topics (so tests never see each other's
// records): an embedded broker (franz-go kfake, in process, stopped at the
// end of the test) always, and the real Kafka at $WATERSHED_TEST_KAFKA when
// it is set. When it is unset the test runs on the embedded broker only —
// unless CI=true, where a missing real broker fails the test.
//
// Run the same test body on each: for _, k := range riverstest.Kafkas(t) { t.Run(k.Name, ...) }.
func Kafkas(t testing.TB) []Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", Topics: []rapids.TopicSpec{}, Logger: quiet})
	if err != nil {
		t.Fatalf("riverstest: embedded broker: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	targets := []Target{{Name: "embedded", Kafka: topicsFor(ctx, t, b.Addr())}}
	if addr := realKafka(t); addr != "" {
		targets = append(targets, Target{Name: "kafka", Kafka: topicsFor(ctx, t, addr)})
	}
	return targets
}

// realKafka returns $WATERSHED_TEST_KAFKA, or "" (after saying why) when
// unset outside CI; in CI an unset variable fails the test.
func realKafka(t testing.TB) string {
	t.Helper()
	addr := strings.TrimSpace(os.Getenv(EnvKafka))
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not set: no real Kafka (run scripts/testenv/up.sh); CI must provide it", EnvKafka)
		}
		t.Logf("%s not set: embedded broker only (run scripts/testenv/up.sh for real Kafka)", EnvKafka)
	}
	return addr
}

// topicsFor returns a config for addr with unique topic names, created with
// one partition each (rapids, rivers and their dead-letter topics).
func topicsFor(ctx context.Context, t testing.TB, addr string) rapids.Config {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	cfg := rapids.Config{
		Brokers: []string{addr},
		Topics:  rapids.Topics{Rapids: "rapids-" + suffix, Rivers: "rivers-" + suffix},
		// One partition per topic keeps group joins fast and ordering total.
		Partitions: 1, RiversPartitions: 1, ReplicationFactor: -1,
		Logger: quiet,
	}
	if err := rapids.EnsureTopics(ctx, cfg); err != nil {
		t.Fatalf("riverstest: create topics on %s: %v", addr, err)
	}
	return cfg
}

// Running is a service served over Kafka by [ServeKafka].
type Running struct {
	cancel context.CancelFunc
	done   chan error
	tr     rivers.Transport
	err    error
	waited bool
}

// Stop stops the service gracefully and returns Serve's error.
func (r *Running) Stop() error {
	if r.waited {
		return r.err
	}
	r.cancel()
	r.err = <-r.done
	r.waited = true
	if cerr := r.tr.Close(); r.err == nil {
		r.err = cerr
	}
	return r.err
}

// Wait blocks until the service stops on its own (a signal, a fatal
// error) and returns Serve's error.
func (r *Running) Wait() error {
	if !r.waited {
		r.err = <-r.done
		r.waited = true
		if cerr := r.tr.Close(); r.err == nil {
			r.err = cerr
		}
	}
	return r.err
}

// ServeKafka serves svc over Kafka at cfg (its Config.Kafka is not used)
// and returns once its consumer has its partitions, or fails the test after
// 30s. The service stops at the end of the test unless stopped earlier.
func ServeKafka(t testing.TB, svc *rivers.Service, cfg rapids.Config, opts ...rapids.ConsumerOption) *Running {
	t.Helper()
	tr, err := rivers.NewKafkaTransport(cfg, opts...)
	if err != nil {
		t.Fatalf("riverstest: kafka transport: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan error, 1), tr: tr}
	go func() { r.done <- svc.Serve(ctx, tr) }()
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("riverstest: service stopped with an error: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := svc.Ready(context.Background())
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("riverstest: service not ready on %v after 30s: %v", cfg.Brokers, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Consume reads the records of topic from the beginning with a fresh
// consumer group until done says they are enough (done may be nil: until
// timeout) or timeout passes, and returns them. It is how tests look at
// what a service published on Kafka.
func Consume(t testing.TB, cfg rapids.Config, topic string, done func([]rivers.Record) bool, timeout time.Duration) []rivers.Record {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	c, err := rapids.NewConsumer(cfg, "riverstest-"+hex.EncodeToString(b[:]), []string{topic})
	if err != nil {
		t.Fatalf("riverstest: consumer: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []rivers.Record
	for done == nil || !done(out) {
		r, err := c.Fetch(ctx)
		if err != nil {
			break
		}
		out = append(out, rivers.Record(r))
	}
	return out
}

// Produce publishes records (topic names as given) to Kafka at cfg.
func Produce(t testing.TB, cfg rapids.Config, records ...rivers.Record) {
	t.Helper()
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatalf("riverstest: producer: %v", err)
	}
	defer p.Close()
	rs := make([]rapids.Record, len(records))
	for i, r := range records {
		rs[i] = rapids.Record(r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, rs...); err != nil {
		t.Fatalf("riverstest: produce %d records: %v", len(rs), err)
	}
}

// Count returns a Consume condition: at least n records of event type typ
// (all types when typ is "").
func Count(typ string, n int) func([]rivers.Record) bool {
	return func(rs []rivers.Record) bool {
		c := 0
		for _, r := range rs {
			if v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType); typ == "" || string(v) == typ {
				c++
			}
		}
		return c >= n
	}
}
