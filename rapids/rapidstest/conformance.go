package rapidstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// Option configures RunConformance.
type Option func(*suite)

// RestartFunc stops the broker under test and starts it again on the same
// data, then returns the brokers' addresses (which may have changed).
type RestartFunc func(t *testing.T) []string

// WithRestart enables the restart-persistence test: restart must stop the
// broker and start it again keeping its data. Without it that test is
// skipped.
func WithRestart(restart RestartFunc) Option {
	return func(s *suite) { s.restart = restart }
}

// WithConfig sets how the suite builds a rapids.Config for the brokers, e.g.
// to add SASL or TLS. Default: rapids.Config{Brokers: brokers}.
func WithConfig(fn func(brokers []string) rapids.Config) Option {
	return func(s *suite) { s.config = fn }
}

// WithTimeout bounds each test of the suite. Default 60s.
func WithTimeout(d time.Duration) Option {
	return func(s *suite) { s.timeout = d }
}

type suite struct {
	mu      sync.Mutex
	brokers []string
	restart RestartFunc
	config  func(brokers []string) rapids.Config
	timeout time.Duration
	run     string // unique per RunConformance call
}

// RunConformance runs the rapids conformance suite against the brokers:
// publish and consume a round trip, per-key order across many keys and
// partitions, a group sharing partitions, commit after success only,
// permanent errors committed after OnPermanent, redelivery after a stop
// before commit, and (WithRestart) persistence of records and committed
// offsets across a broker restart.
//
// Every test creates its own topics and groups with unique names, so the
// suite can run against a shared broker, again and again.
func RunConformance(t *testing.T, brokers []string, opts ...Option) {
	t.Helper()
	if len(brokers) == 0 {
		t.Fatal("rapidstest: RunConformance needs at least one broker address")
	}
	s := &suite{
		brokers: brokers,
		config:  func(b []string) rapids.Config { return rapids.Config{Brokers: b} },
		timeout: 60 * time.Second,
		run:     randomSuffix(),
	}
	for _, o := range opts {
		o(s)
	}
	t.Run("PublishConsume", s.testPublishConsume)
	t.Run("PerKeyOrder", s.testPerKeyOrder)
	t.Run("GroupSharesPartitions", s.testGroupSharesPartitions)
	t.Run("CommitAfterSuccess", s.testCommitAfterSuccess)
	t.Run("RetryThenSuccess", s.testRetryThenSuccess)
	t.Run("PermanentIsCommitted", s.testPermanentIsCommitted)
	t.Run("RedeliveryAfterStopBeforeCommit", s.testRedelivery)
	t.Run("RestartPersistence", s.testRestartPersistence)
}

func (s *suite) cfg() rapids.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.config(s.brokers)
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	t.Cleanup(cancel)
	return ctx
}

// topic creates a topic unique to this test and returns its name.
func (s *suite) topic(t *testing.T, ctx context.Context, partitions int) string {
	t.Helper()
	name := s.name(t, "topic")
	spec := rapids.TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: -1, Retention: time.Hour}
	if err := rapids.EnsureTopics(ctx, s.cfg(), spec); err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
	return name
}

func (s *suite) name(t *testing.T, kind string) string {
	base := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("conformance-%s-%s-%s-%s", base, kind, s.run, randomSuffix()[:4])
}

func (s *suite) producer(t *testing.T) *rapids.Producer {
	t.Helper()
	p, err := rapids.NewProducer(s.cfg())
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// consumer returns a consumer that is closed at cleanup (if the test did
// not close it) and has joined its group.
func (s *suite) consumer(t *testing.T, ctx context.Context, group, topic string, opts ...rapids.ConsumerOption) *rapids.Consumer {
	t.Helper()
	c, err := rapids.NewConsumer(s.cfg(), group, []string{topic}, opts...)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.WaitAssigned(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

type payload struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
}

// events returns records of events on topic: for each key, n events with
// seq 0..n-1, interleaved key by key.
func events(t *testing.T, topic string, keys []string, n int) []rapids.Record {
	t.Helper()
	var recs []rapids.Record
	for seq := range n {
		for _, k := range keys {
			e, err := contracts.New("/services/conformance", "conformance.test.v1", payload{Key: k, Seq: seq})
			if err != nil {
				t.Fatal(err)
			}
			e.PartitionKey = k
			e.Subject = k
			r, err := rapids.NewRecord(topic, e)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
	}
	return recs
}

func decode(t *testing.T, r rapids.Record) (contracts.Event, payload) {
	t.Helper()
	e, err := contracts.DecodeBinary(r.Message())
	if err != nil {
		t.Fatalf("record %s does not decode: %v", r, err)
	}
	var p payload
	if err := json.Unmarshal(e.Data, &p); err != nil {
		t.Fatalf("record %s data: %v", r, err)
	}
	return e, p
}

func fetchN(t *testing.T, ctx context.Context, c *rapids.Consumer, n int) []rapids.Record {
	t.Helper()
	out := make([]rapids.Record, 0, n)
	for len(out) < n {
		r, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("fetched %d of %d records: %v", len(out), n, err)
		}
		out = append(out, r)
	}
	return out
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("meter-%04d", i)
	}
	return ks
}

func (s *suite) testPublishConsume(t *testing.T) {
	ctx := s.ctx(t)
	topic := s.topic(t, ctx, 3)
	recs := events(t, topic, keys(10), 5)
	want := make(map[string]rapids.Record, len(recs))
	for _, r := range recs {
		e, _ := decode(t, r)
		want[e.ID] = r
	}
	if err := s.producer(t).Publish(ctx, recs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	c := s.consumer(t, ctx, s.name(t, "group"), topic)
	for _, got := range fetchN(t, ctx, c, len(recs)) {
		e, _ := decode(t, got)
		w, ok := want[e.ID]
		if !ok {
			t.Fatalf("record %s: event %s was not published or came twice", got, e.ID)
		}
		delete(want, e.ID)
		if got.Topic != topic || string(got.Key) != string(w.Key) || string(got.Value) != string(w.Value) {
			t.Errorf("record %s: got key %q value %s, want key %q value %s", got, got.Key, got.Value, w.Key, w.Value)
		}
		if len(got.Headers) != len(w.Headers) {
			t.Errorf("record %s: %d headers, want %d", got, len(got.Headers), len(w.Headers))
		}
		for _, h := range w.Headers {
			if v, ok := contracts.HeaderValue(got.Headers, h.Key); !ok || string(v) != string(h.Value) {
				t.Errorf("record %s: header %s = %q, want %q", got, h.Key, v, h.Value)
			}
		}
		if got.Time.IsZero() || time.Since(got.Time) > time.Hour {
			t.Errorf("record %s: timestamp %v, want about now", got, got.Time)
		}
	}
	if err := c.Commit(ctx); err != nil {
		t.Errorf("empty Commit: %v", err)
	}
	if c.Lag() != 0 {
		t.Errorf("Lag() = %d after reading everything, want 0", c.Lag())
	}
}

func (s *suite) testPerKeyOrder(t *testing.T) {
	ctx := s.ctx(t)
	const partitions, nkeys, perKey = 4, 60, 20
	topic := s.topic(t, ctx, partitions)
	recs := events(t, topic, keys(nkeys), perKey)
	p := s.producer(t)
	for i := 0; i < len(recs); i += 150 { // several calls, as a service publishes
		if err := p.Publish(ctx, recs[i:min(i+150, len(recs))]...); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	c := s.consumer(t, ctx, s.name(t, "group"), topic)
	next := make(map[string]int)
	partitionOf := make(map[string]int)
	used := make(map[int]bool)
	for _, r := range fetchN(t, ctx, c, len(recs)) {
		_, pl := decode(t, r)
		if string(r.Key) != pl.Key {
			t.Fatalf("record %s: key %q, payload key %q", r, r.Key, pl.Key)
		}
		if pl.Seq != next[pl.Key] {
			t.Fatalf("key %s: got seq %d at %s, want %d: per-key order broken", pl.Key, pl.Seq, r, next[pl.Key])
		}
		next[pl.Key]++
		if p, ok := partitionOf[pl.Key]; ok && p != r.Partition {
			t.Fatalf("key %s on partitions %d and %d", pl.Key, p, r.Partition)
		}
		partitionOf[pl.Key] = r.Partition
		used[r.Partition] = true
	}
	if len(used) != partitions {
		t.Errorf("%d keys used %d of %d partitions: keys are not spread", nkeys, len(used), partitions)
	}
}

func (s *suite) testGroupSharesPartitions(t *testing.T) {
	ctx := s.ctx(t)
	const partitions = 4
	topic := s.topic(t, ctx, partitions)
	group := s.name(t, "group")
	c1 := s.consumer(t, ctx, group, topic)
	c2 := s.consumer(t, ctx, group, topic)
	// c2 joined after c1, so both are members of the latest generation.
	recs := events(t, topic, keys(40), 3)
	if err := s.producer(t).Publish(ctx, recs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	type seen struct {
		member    int
		partition int
		id        string
	}
	ch := make(chan seen, len(recs))
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, c := range []*rapids.Consumer{c1, c2} {
		wg.Go(func() {
			for {
				r, err := c.Fetch(fctx)
				if err != nil {
					return
				}
				e, err := contracts.DecodeBinary(r.Message())
				if err != nil {
					t.Errorf("record %s does not decode: %v", r, err)
					return
				}
				ch <- seen{member: i, partition: r.Partition, id: e.ID}
			}
		})
	}
	owner := make(map[int]int)
	ids := make(map[string]bool)
	perMember := make(map[int]int)
	for len(ids) < len(recs) {
		select {
		case v := <-ch:
			ids[v.id] = true
			perMember[v.member]++
			if o, ok := owner[v.partition]; ok && o != v.member {
				t.Errorf("partition %d read by both members of the group", v.partition)
			}
			owner[v.partition] = v.member
		case <-ctx.Done():
			t.Fatalf("read %d of %d records: %v", len(ids), len(recs), ctx.Err())
		}
	}
	cancel()
	wg.Wait()
	if perMember[0] == 0 || perMember[1] == 0 {
		t.Errorf("records per member %v: the group did not share the partitions", perMember)
	}
}

func (s *suite) testCommitAfterSuccess(t *testing.T) {
	ctx := s.ctx(t)
	topic := s.topic(t, ctx, 1)
	group := s.name(t, "group")
	recs := events(t, topic, []string{"k"}, 3)
	if err := s.producer(t).Publish(ctx, recs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	// The first consumer handles seq 0, then fails on seq 1 as it stops.
	c1 := s.consumer(t, ctx, group, topic)
	runCtx, stop := context.WithCancel(ctx)
	var handled []int
	err := c1.Run(runCtx, func(ctx context.Context, r rapids.Record) error {
		_, pl := decode(t, r)
		handled = append(handled, pl.Seq)
		if pl.Seq == 1 {
			stop()
			return errors.New("handler failed while stopping")
		}
		return nil
	})
	stop()
	if err != nil {
		t.Fatalf("Run returned %v, want nil after its context ended", err)
	}
	if fmt.Sprint(handled) != "[0 1]" {
		t.Fatalf("handled %v, want [0 1]", handled)
	}
	if err := c1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The failed record was not committed: the group gets it again.
	c2 := s.consumer(t, ctx, group, topic)
	got := fetchN(t, ctx, c2, 2)
	for i, r := range got {
		if _, pl := decode(t, r); pl.Seq != i+1 || r.Offset != int64(i+1) {
			t.Errorf("after restart got seq %d at offset %d, want seq %d at offset %d", pl.Seq, r.Offset, i+1, i+1)
		}
	}
}

func (s *suite) testRetryThenSuccess(t *testing.T) {
	ctx := s.ctx(t)
	topic := s.topic(t, ctx, 1)
	group := s.name(t, "group")
	recs := events(t, topic, []string{"k"}, 2)
	if err := s.producer(t).Publish(ctx, recs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	c := s.consumer(t, ctx, group, topic,
		rapids.WithRetry(rapids.RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond}),
		rapids.WithOnPermanent(func(ctx context.Context, r rapids.Record, err error) error {
			t.Errorf("OnPermanent(%s, %v) for a retryable error", r, err)
			return nil
		}))
	runCtx, stop := context.WithCancel(ctx)
	calls := map[int]int{}
	err := c.Run(runCtx, func(ctx context.Context, r rapids.Record) error {
		_, pl := decode(t, r)
		calls[pl.Seq]++
		if pl.Seq == 0 && calls[0] < 3 {
			return fmt.Errorf("transient failure %d", calls[0])
		}
		if pl.Seq == 1 {
			stop()
		}
		return nil
	})
	stop()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if calls[0] != 3 || calls[1] != 1 {
		t.Errorf("handler calls per seq %v, want seq 0 three times (two failures) then seq 1 once", calls)
	}
}

func (s *suite) testPermanentIsCommitted(t *testing.T) {
	ctx := s.ctx(t)
	topic := s.topic(t, ctx, 1)
	group := s.name(t, "group")
	recs := events(t, topic, []string{"k"}, 3)
	p := s.producer(t)
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	var dead []int64
	c1 := s.consumer(t, ctx, group, topic, rapids.WithOnPermanent(func(ctx context.Context, r rapids.Record, err error) error {
		if !rapids.IsPermanent(err) {
			t.Errorf("OnPermanent got %v, which is not permanent", err)
		}
		dead = append(dead, r.Offset)
		return nil
	}))
	runCtx, stop := context.WithCancel(ctx)
	calls := 0
	err := c1.Run(runCtx, func(ctx context.Context, r rapids.Record) error {
		calls++
		_, pl := decode(t, r)
		switch pl.Seq {
		case 1:
			return rapids.Permanent(errors.New("bad reading"))
		case 2:
			stop() // handled: committed even though Run is stopping
		}
		return nil
	})
	stop()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if calls != 3 || fmt.Sprint(dead) != "[1]" {
		t.Fatalf("handler called %d times, dead-lettered offsets %v; want 3 calls and [1]", calls, dead)
	}
	if err := c1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Everything was committed, including the permanent failure: the group
	// next sees a new record.
	more := events(t, topic, []string{"k"}, 1)
	if err := p.Publish(ctx, more...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	c2 := s.consumer(t, ctx, group, topic)
	if r := fetchN(t, ctx, c2, 1)[0]; r.Offset != 3 {
		t.Errorf("group resumed at offset %d, want 3: something was not committed", r.Offset)
	}
}

func (s *suite) testRedelivery(t *testing.T) {
	ctx := s.ctx(t)
	topic := s.topic(t, ctx, 2)
	group := s.name(t, "group")
	recs := events(t, topic, keys(4), 5)
	if err := s.producer(t).Publish(ctx, recs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	c1 := s.consumer(t, ctx, group, topic)
	first := fetchN(t, ctx, c1, len(recs))
	// Commit the first record of each partition only, then stop.
	committed := make(map[int]int64)
	for _, r := range first {
		if _, ok := committed[r.Partition]; !ok {
			committed[r.Partition] = r.Offset
			if err := c1.Commit(ctx, r); err != nil {
				t.Fatalf("Commit: %v", err)
			}
		}
	}
	if err := c1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c1.Commit(ctx, first[0]); !errors.Is(err, rapids.ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
	c2 := s.consumer(t, ctx, group, topic)
	again := fetchN(t, ctx, c2, len(recs)-len(committed))
	seen := make(map[string]bool)
	for _, r := range again {
		if r.Offset <= committed[r.Partition] {
			t.Errorf("record %s was committed but delivered again", r)
		}
		seen[r.String()] = true
	}
	for _, r := range first {
		if r.Offset > committed[r.Partition] && !seen[r.String()] {
			t.Errorf("record %s was not committed and not delivered again", r)
		}
	}
}

func (s *suite) testRestartPersistence(t *testing.T) {
	if s.restart == nil {
		t.Skip("no restart hook: pass rapidstest.WithRestart to test persistence across a broker restart")
	}
	ctx := s.ctx(t)
	topic := s.topic(t, ctx, 2)
	group := s.name(t, "group")
	recs := events(t, topic, keys(5), 4)
	p := s.producer(t)
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	_ = p.Close()
	c1 := s.consumer(t, ctx, group, topic)
	first := fetchN(t, ctx, c1, len(recs))
	half := first[:len(first)/2]
	if err := c1.Commit(ctx, half...); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := c1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	committed := make(map[int]int64) // partition -> highest committed offset
	for _, r := range half {
		committed[r.Partition] = max(committed[r.Partition], r.Offset+1)
	}

	restarted := time.Now()
	brokers := s.restart(t)
	t.Logf("broker restarted in %s", time.Since(restarted).Round(time.Millisecond))
	s.mu.Lock()
	s.brokers = brokers
	s.mu.Unlock()
	ctx = s.ctx(t) // the restart may have taken most of the first budget

	// The committed offsets survived: the group resumes after them.
	c2 := s.consumer(t, ctx, group, topic)
	rest := fetchN(t, ctx, c2, len(recs)-len(half))
	for _, r := range rest {
		if r.Offset < committed[r.Partition] {
			t.Errorf("after restart the group got %s again: its committed offset %d was lost", r, committed[r.Partition])
		}
	}
	// The records survived: a new group reads all of them, byte for byte.
	c3 := s.consumer(t, ctx, s.name(t, "fresh"), topic)
	want := make(map[string]rapids.Record)
	for _, r := range first {
		want[r.String()] = r
	}
	for _, r := range fetchN(t, ctx, c3, len(recs)) {
		w, ok := want[r.String()]
		if !ok {
			t.Fatalf("after restart: unexpected record %s", r)
		}
		delete(want, r.String())
		if string(r.Key) != string(w.Key) || string(r.Value) != string(w.Value) || len(r.Headers) != len(w.Headers) {
			t.Errorf("record %s changed across the restart", r)
		}
	}
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
