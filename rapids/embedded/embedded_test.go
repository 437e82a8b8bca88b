package embedded_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
)

var quiet = slog.New(slog.DiscardHandler)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestStartOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", Partitions: 2, Logger: quiet,
		Topics: []rapids.TopicSpec{{Name: "only-this", Partitions: 9, ReplicationFactor: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || strings.HasSuffix(b.Addr(), ":0") {
		t.Errorf("Addr() = %q, want the port picked", b.Addr())
	}
	parts, err := rapids.TopicPartitions(ctx, rapids.Config{Brokers: []string{b.Addr()}, Logger: quiet}, "only-this", "rapids")
	if err != nil {
		t.Fatal(err)
	}
	// Partitions overrides the spec; replication is capped to the one node.
	if len(parts) != 1 || parts["only-this"] != 2 {
		t.Errorf("topics %v, want only-this with 2 partitions", parts)
	}

	_, err = embedded.Start(ctx, embedded.Options{Addr: b.Addr(), Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), b.Addr()) {
		t.Errorf("second broker on %s: %v, want an error naming the address", b.Addr(), err)
	}
	if _, err := embedded.Start(ctx, embedded.Options{Addr: "9092"}); err == nil {
		t.Error("Start with an address without host succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestClientsSurviveRestart: a producer and a consumer keep working across
// a restart of the broker on the same address and data directory, as in
// development when the broker is restarted under running services.
func TestClientsSurviveRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir, addr := t.TempDir(), freeAddr(t)
	opts := embedded.Options{Addr: addr, DataDir: dir, Partitions: 1, Logger: quiet}
	b, err := embedded.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rapids.Config{Brokers: []string{addr}, Logger: quiet}
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := rapids.NewConsumer(cfg, "survivor", []string{"rivers"}, rapids.WithCommitInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	publish := func(v string) {
		t.Helper()
		if err := p.Publish(ctx, rapids.Record{Topic: "rivers", Key: []byte("k"), Value: []byte(v)}); err != nil {
			t.Fatalf("Publish(%s): %v", v, err)
		}
	}
	fetch := func(want string) {
		t.Helper()
		r, err := c.Fetch(ctx)
		if err != nil || string(r.Value) != want {
			t.Fatalf("Fetch = %q, %v; want %s", r.Value, err, want)
		}
		if err := c.Commit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	publish(`"before"`)
	fetch(`"before"`)

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err = embedded.Start(ctx, opts); err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	publish(`"after"`)
	// The group's coordinator connection died with the broker: until the
	// consumer notices and rejoins, a commit fails with a retryable error,
	// and the rejoin delivers the uncommitted record again. The committed
	// one never comes back.
	for {
		r, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("Fetch after restart: %v", err)
		}
		if string(r.Value) != `"after"` {
			t.Fatalf("after restart got %s, want \"after\" (\"before\" was committed)", r.Value)
		}
		err = c.Commit(ctx, r)
		if err == nil {
			break
		}
		if !rapids.IsRetryable(err) {
			t.Fatalf("Commit after restart: %v, want success or a retryable error", err)
		}
	}
}

// TestRetentionBytesBoundsWhatTheBrokerKeeps writes ten times the bound to
// one partition and waits for the broker to drop the oldest records.
func TestRetentionBytesBoundsWhatTheBrokerKeeps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", Logger: quiet,
		RetentionBytes: 64 << 10, RetentionCheck: 50 * time.Millisecond,
		Topics: []rapids.TopicSpec{{Name: "bounded", Partitions: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := rapids.Config{Brokers: []string{b.Addr()}, Logger: quiet}
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 10 {
		recs := make([]rapids.Record, 64)
		for i := range recs {
			value := make([]byte, 1000) // random: the producer compresses
			rand.Read(value)
			recs[i] = rapids.Record{Topic: "bounded", Key: []byte("k"), Value: value}
		}
		if err := p.Publish(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := kafka.DialLeader(ctx, "tcp", b.Addr(), "bounded", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for {
		first, err := conn.ReadFirstOffset()
		if err != nil {
			t.Fatal(err)
		}
		if first > 0 {
			return // the oldest records are gone
		}
		if ctx.Err() != nil {
			t.Fatal("after 60s the broker still keeps every record of a partition ten times over its retention.bytes")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
