package rapids_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// testCtx returns a context that bounds one test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testConfig(b interface{ Addr() string }) rapids.Config {
	return rapids.Config{Brokers: []string{b.Addr()}, Logger: quietLogger()}
}

func createTopic(t *testing.T, ctx context.Context, cfg rapids.Config, spec rapids.TopicSpec) {
	t.Helper()
	if err := rapids.EnsureTopics(ctx, cfg, spec); err != nil {
		t.Fatalf("EnsureTopics(%s): %v", spec.Name, err)
	}
}

func newProducer(t *testing.T, cfg rapids.Config) *rapids.Producer {
	t.Helper()
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newConsumer(t *testing.T, ctx context.Context, cfg rapids.Config, group, topic string, opts ...rapids.ConsumerOption) *rapids.Consumer {
	t.Helper()
	c, err := rapids.NewConsumer(cfg, group, []string{topic}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.WaitAssigned(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func values(topic string, n int) []rapids.Record {
	recs := make([]rapids.Record, n)
	for i := range recs {
		recs[i] = rapids.Record{Topic: topic, Key: []byte("k"), Value: fmt.Appendf(nil, `{"seq":%d}`, i)}
	}
	return recs
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestPublishErrors(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	createTopic(t, ctx, cfg, rapids.TopicSpec{Name: "small", Partitions: 1, Configs: map[string]string{"max.message.bytes": "2000"}})
	p := newProducer(t, cfg)

	// Over the producer's own limit: refused before sending.
	err := p.Publish(ctx, rapids.Record{Topic: "rapids", Value: randomBytes(2 << 20)})
	if !rapids.IsPermanent(err) || !strings.Contains(err.Error(), "KAFKA_BATCH_BYTES") {
		t.Errorf("2 MiB record: %v; want a permanent error naming KAFKA_BATCH_BYTES", err)
	}

	// Over the topic's limit: refused by the broker, for that record only.
	err = p.Publish(ctx, rapids.Record{Topic: "small", Value: randomBytes(10_000)})
	var pe *rapids.PublishError
	if !errors.As(err, &pe) || pe.Failed() != 1 || !errors.Is(err, kafka.MessageSizeTooLarge) || !rapids.IsPermanent(err) {
		t.Errorf("record over the topic's max.message.bytes: %v; want a permanent PublishError with MessageSizeTooLarge", err)
	} else if !strings.Contains(err.Error(), "[10]") {
		t.Errorf("broker refusal %q does not carry the Kafka error code", err)
	}

	// An unknown topic may appear later: retryable.
	err = p.Publish(ctx, rapids.Record{Topic: "no-such-topic", Value: []byte("{}")})
	if err == nil || !rapids.IsRetryable(err) || !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("unknown topic: %v; want a retryable UnknownTopicOrPartition", err)
	}

	if err := p.Publish(ctx, rapids.Record{Value: []byte("{}")}); !rapids.IsPermanent(err) {
		t.Errorf("record without topic: %v; want a permanent error", err)
	}
	if err := p.Publish(ctx); err != nil {
		t.Errorf("Publish of nothing: %v", err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := p.Publish(ctx, values("rapids", 1)...); !errors.Is(err, rapids.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

func TestNewRecordRoundTrip(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	e, err := contracts.New("/services/meter-simulator", "meter.reading.v1", map[string]any{"meter_id": "m-1", "voltage_v": 231.5})
	if err != nil {
		t.Fatal(err)
	}
	e.PartitionKey = "m-1"
	e.ExpiryTime = e.Time.Add(time.Hour)
	keyed, err := rapids.NewRecord("rapids", e)
	if err != nil {
		t.Fatal(err)
	}
	e2 := e.Clone()
	e2.ID, e2.PartitionKey = contracts.NewID(), ""
	keyless, err := rapids.NewRecord("rapids", e2)
	if err != nil {
		t.Fatal(err)
	}
	if keyless.Key != nil {
		t.Errorf("event without partition key: record key %q, want null", keyless.Key)
	}
	if _, err := rapids.NewRecord("rapids", contracts.Event{ID: "x"}); err == nil {
		t.Error("NewRecord of an event without source and type succeeded")
	}
	p := newProducer(t, cfg)
	if err := p.Publish(ctx, keyed, keyless); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, ctx, cfg, "round-trip", "rapids")
	got := map[string]contracts.Event{}
	for range 2 {
		r, err := c.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d, err := contracts.DecodeBinary(r.Message())
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if d.ID == e2.ID && r.Key != nil {
			t.Errorf("keyless event came back with key %q", r.Key)
		}
		got[d.ID] = d
	}
	d := got[e.ID]
	if d.PartitionKey != "m-1" || !d.ExpiryTime.Equal(e.ExpiryTime) || string(d.Data) != string(e.Data) || d.Type != e.Type {
		t.Errorf("event changed on the way: sent %+v, got %+v", e, d)
	}
}

func TestConsumerAssignedAndLag(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	createTopic(t, ctx, cfg, rapids.TopicSpec{Name: "lag", Partitions: 1})
	if err := newProducer(t, cfg).Publish(ctx, values("lag", 10)...); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, ctx, cfg, "lag-group", "lag") // waits for Assigned
	if !c.Assigned() || c.AssignedPartitions() != 1 {
		t.Fatalf("after WaitAssigned: Assigned() = %v, AssignedPartitions() = %d; want true, 1", c.Assigned(), c.AssignedPartitions())
	}
	for range 3 {
		if _, err := c.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Lag(); got != 7 {
		t.Errorf("Lag() after reading 3 of 10 records = %d, want 7", got)
	}
	// The assignment names the partition and where it started: nothing
	// committed yet, so not at an offset of the log.
	if a := c.Assignment(); len(a) != 1 || a[rapids.TopicPartition{Topic: "lag", Partition: 0}] >= 0 {
		t.Errorf("Assignment() of a new group = %v, want lag/0 at a negative (first-offset) start", a)
	}

	// A consumer that cannot reach its broker never becomes ready.
	lost, err := rapids.NewConsumer(rapids.Config{Brokers: []string{"127.0.0.1:1"}, Logger: quietLogger()}, "g", []string{"lag"})
	if err != nil {
		t.Fatal(err)
	}
	defer lost.Close()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := lost.WaitAssigned(short); !errors.Is(err, context.DeadlineExceeded) || lost.Assigned() || lost.AssignedPartitions() != 0 {
		t.Errorf("consumer without broker: WaitAssigned = %v, Assigned = %v", err, lost.Assigned())
	}
}

func committedOffset(t *testing.T, ctx context.Context, addr, group, topic string) int64 {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(addr)}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	return resp.Topics[topic][0].CommittedOffset
}

func TestSynchronousCommit(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	createTopic(t, ctx, cfg, rapids.TopicSpec{Name: "sync", Partitions: 1})
	if err := newProducer(t, cfg).Publish(ctx, values("sync", 5)...); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, ctx, cfg, "sync-group", "sync", rapids.WithCommitInterval(0))
	var recs []rapids.Record
	for range 3 {
		r, err := c.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	// Out of order: the highest offset wins.
	if err := c.Commit(ctx, recs[2], recs[0]); err != nil {
		t.Fatal(err)
	}
	if got := committedOffset(t, ctx, b.Addr(), "sync-group", "sync"); got != 3 {
		t.Errorf("committed offset right after Commit = %d, want 3 (the next record to read)", got)
	}
	// The group's next member starts the partition at the committed offset,
	// and its assignment says so.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	next := newConsumer(t, ctx, cfg, "sync-group", "sync", rapids.WithCommitInterval(0))
	if a := next.Assignment(); a[rapids.TopicPartition{Topic: "sync", Partition: 0}] != 3 || len(a) != 1 {
		t.Errorf("Assignment() after a commit at 3 = %v, want sync/0 starting at 3", a)
	}
}

func TestRunPermanentPaths(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	createTopic(t, ctx, cfg, rapids.TopicSpec{Name: "run", Partitions: 1})
	if err := newProducer(t, cfg).Publish(ctx, values("run", 3)...); err != nil {
		t.Fatal(err)
	}
	fast := rapids.WithRetry(rapids.RetryPolicy{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: 3})

	// Offset 0 panics, offset 1 keeps failing: both reach OnPermanent, then
	// offset 2 is handled.
	causes := map[int64]error{}
	c := newConsumer(t, ctx, cfg, "run-group", "run", fast, rapids.WithOnPermanent(func(ctx context.Context, r rapids.Record, err error) error {
		causes[r.Offset] = err
		return nil
	}))
	runCtx, stop := context.WithCancel(ctx)
	calls := map[int64]int{}
	err := c.Run(runCtx, func(ctx context.Context, r rapids.Record) error {
		calls[r.Offset]++
		switch r.Offset {
		case 0:
			panic("nil map")
		case 1:
			return errors.New("still down")
		}
		stop()
		return nil
	})
	stop()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if calls[0] != 1 || calls[1] != 3 || calls[2] != 1 {
		t.Errorf("handler calls per offset %v, want 1 (panic), 3 (MaxAttempts), 1", calls)
	}
	if err := causes[0]; !rapids.IsPermanent(err) || !strings.Contains(fmt.Sprint(err), "panicked") {
		t.Errorf("OnPermanent for the panic got %v", err)
	}
	if err := causes[1]; !errors.Is(err, rapids.ErrRetriesExhausted) || !strings.Contains(fmt.Sprint(err), "still down") {
		t.Errorf("OnPermanent after MaxAttempts got %v, want ErrRetriesExhausted wrapping the cause", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := committedOffset(t, ctx, b.Addr(), "run-group", "run"); got != 3 {
		t.Errorf("committed offset %d, want 3: permanent failures are committed", got)
	}

	// When dead-lettering fails permanently, Run stops and commits nothing.
	dlqDown := errors.New("dead-letter topic refused the record")
	c2 := newConsumer(t, ctx, cfg, "run-group-2", "run", rapids.WithOnPermanent(func(context.Context, rapids.Record, error) error {
		return rapids.Permanent(dlqDown)
	}))
	err = c2.Run(ctx, func(context.Context, rapids.Record) error { return rapids.Permanent(errors.New("bad")) })
	if !errors.Is(err, dlqDown) {
		t.Errorf("Run with a failing OnPermanent returned %v, want the OnPermanent error", err)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := committedOffset(t, ctx, b.Addr(), "run-group-2", "run"); got >= 0 {
		t.Errorf("committed offset %d after OnPermanent failed, want none (-1)", got)
	}

	// Closing the consumer under Run ends it with ErrClosed.
	c3 := newConsumer(t, ctx, cfg, "run-group-3", "run")
	done := make(chan error, 1)
	go func() {
		done <- c3.Run(ctx, func(context.Context, rapids.Record) error { return nil })
	}()
	time.Sleep(100 * time.Millisecond)
	if err := c3.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, rapids.ErrClosed) {
		t.Errorf("Run after Close returned %v, want ErrClosed", err)
	}
}

func TestEnsureTopics(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	partitionsOf := func(topic string) int {
		t.Helper()
		conn, err := kafka.DialContext(ctx, "tcp", b.Addr()) // no metadata cache
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ps, err := conn.ReadPartitions(topic)
		if err != nil {
			t.Fatalf("partitions of %s: %v", topic, err)
		}
		return len(ps)
	}
	// The embedded broker created the default topics.
	for topic, want := range map[string]int{"rapids": 6, "rivers": 3, "rapids.dlq": 3, "rivers.dlq": 3} {
		if got := partitionsOf(topic); got != want {
			t.Errorf("%s has %d partitions, want %d", topic, got, want)
		}
	}
	// Existing topics are left alone, whatever the spec says.
	if err := rapids.EnsureTopics(ctx, rapids.Config{Brokers: cfg.Brokers, Partitions: 12, Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if got := partitionsOf("rapids"); got != 6 {
		t.Errorf("EnsureTopics changed rapids to %d partitions", got)
	}
	// A refusal names the topic, the broker's code and message.
	err := rapids.EnsureTopics(ctx, cfg,
		rapids.TopicSpec{Name: "fine", Partitions: 2},
		rapids.TopicSpec{Name: "too-replicated", Partitions: 1, ReplicationFactor: 5})
	if err == nil || !errors.Is(err, kafka.InvalidReplicationFactor) {
		t.Fatalf("replication 5 on one broker: %v, want InvalidReplicationFactor", err)
	}
	for _, want := range []string{`"too-replicated"`, "replication 5", "broker refused", "[38]", "Invalid Replication Factor"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if got := partitionsOf("fine"); got != 2 {
		t.Errorf("the valid topic of the same call has %d partitions, want 2", got)
	}
	parts, err := rapids.TopicPartitions(ctx, cfg, "rapids", "fine", "absent")
	if err != nil || len(parts) != 2 || parts["rapids"] != 6 || parts["fine"] != 2 {
		t.Errorf("TopicPartitions = %v, %v; want rapids:6 fine:2 and no absent", parts, err)
	}
	// Bad specs fail before anything is sent.
	err = rapids.EnsureTopics(ctx, cfg, rapids.TopicSpec{Name: "bad name", Partitions: 0})
	if err == nil || !strings.Contains(err.Error(), "bad name") || !strings.Contains(err.Error(), "partitions 0") {
		t.Errorf("invalid spec: %v", err)
	}
	// An unreachable broker is a clear error, not a hang.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = rapids.EnsureTopics(short, rapids.Config{Brokers: []string{"127.0.0.1:1"}, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable broker: %v", err)
	}
}

// ReadPartition reads a partition's history outside the group; Rebalanced
// signals the assignment; CloseWithoutCommit drops the offsets not sent.
func TestConsumerHistoryAndCrash(t *testing.T) {
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	createTopic(t, ctx, cfg, rapids.TopicSpec{Name: "hist", Partitions: 1})
	if err := newProducer(t, cfg).Publish(ctx, values("hist", 5)...); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, ctx, cfg, "hist-group", "hist", rapids.WithCommitInterval(time.Hour))
	select {
	case <-c.Rebalanced():
	case <-ctx.Done():
		t.Fatal("no rebalance signal after the assignment")
	}
	tp := rapids.TopicPartition{Topic: "hist", Partition: 0}
	var got []int64
	if err := c.ReadPartition(ctx, tp, time.Time{}, 4, func(r rapids.Record) error {
		got = append(got, r.Offset)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{0, 1, 2, 3}) {
		t.Errorf("ReadPartition up to 4 read offsets %v, want 0..3", got)
	}
	got = nil
	if err := c.ReadPartition(ctx, tp, time.Now().Add(time.Hour), 5, func(r rapids.Record) error {
		got = append(got, r.Offset)
		return nil
	}); err != nil || len(got) != 0 {
		t.Errorf("ReadPartition from an hour ahead: %v, %v; want nothing", got, err)
	}
	var recs []rapids.Record
	for range 3 {
		r, err := c.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := c.Commit(ctx, recs[2]); err != nil { // pending: the interval is an hour
		t.Fatal(err)
	}
	if err := c.CloseWithoutCommit(); err != nil {
		t.Fatal(err)
	}
	if off := committedOffset(t, ctx, b.Addr(), "hist-group", "hist"); off >= 3 {
		t.Errorf("committed offset %d after CloseWithoutCommit, want the pending 3 dropped", off)
	}
}
