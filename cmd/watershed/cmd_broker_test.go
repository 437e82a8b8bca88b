package main

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
)

var listening = regexp.MustCompile(`listening on (\S+),`)

func brokerAddr(t *testing.T, r *running) string {
	t.Helper()
	waitFor(t, "the broker to listen", func() bool { return listening.MatchString(r.out.String()) })
	return listening.FindStringSubmatch(r.out.String())[1]
}

func TestBrokerCommand(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	b := start(t, "broker", "--addr", "127.0.0.1:0", "--data-dir", dir, "--partitions", "2")
	addr := brokerAddr(t, b)
	cfg := rapids.Config{Brokers: []string{addr}}
	parts, err := rapids.TopicPartitions(ctx, cfg, "rapids", "rivers", "rapids.dlq", "rivers.dlq")
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"rapids", "rivers", "rapids.dlq", "rivers.dlq"} {
		if parts[topic] != 2 {
			t.Errorf("topic %s has %d partitions, want 2 (--partitions)", topic, parts[topic])
		}
	}
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, rapids.Record{Topic: "rivers", Key: []byte("k"), Value: []byte(`{"kept":true}`)}); err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	if err := b.stop(t); err != nil {
		t.Fatalf("broker stopped with %v, want nil after Ctrl-C", err)
	}

	// Started again on the same data dir, the broker still has the record.
	b2 := start(t, "broker", "--addr", "127.0.0.1:0", "--data-dir", dir)
	c, err := rapids.NewConsumer(rapids.Config{Brokers: []string{brokerAddr(t, b2)}}, "after-restart", []string{"rivers"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Fetch(ctx)
	if err != nil || string(r.Value) != `{"kept":true}` {
		t.Fatalf("after restart read %q, %v", r.Value, err)
	}
}

func TestBrokerCommandBadConfig(t *testing.T) {
	t.Setenv("KAFKA_PARTITIONS", "many")
	cmd := newRootCmd()
	cmd.SetArgs([]string{"broker", "--addr", "127.0.0.1:0", "--data-dir", ""})
	err := cmd.Execute()
	if err == nil || !regexp.MustCompile(`KAFKA_PARTITIONS: "many"`).MatchString(err.Error()) {
		t.Errorf("broker with KAFKA_PARTITIONS=many: %v", err)
	}
	cmd = newRootCmd()
	cmd.SetArgs([]string{"broker", "--addr", "nowhere"})
	t.Setenv("KAFKA_PARTITIONS", "")
	if err := cmd.Execute(); err == nil {
		t.Error("broker with --addr nowhere started")
	}
}
