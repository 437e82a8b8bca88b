package riverstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// TransportFactory returns, for one subtest of [RunTransportSuite], a fresh
// transport and n topics of its own: existing, empty, and used by no other
// subtest. The suite closes the transport; the factory releases anything
// else it made (with t.Cleanup).
type TransportFactory func(t *testing.T, n int) (rivers.Transport, []string)

// suiteWait bounds every wait of the conformance suites: generous, for a
// loaded machine and a real broker's group joins.
const suiteWait = 90 * time.Second

// RunTransportSuite checks that a [rivers.Transport] keeps the contract
// the rivers SDK relies on. Every rivers transport passes it: the in-memory
// [Bus] and the Kafka transport (on the embedded broker and on real Kafka);
// a transport of your own must too. It checks that
//
//   - published records are fetched with their key, value, headers and
//     topic, a partition, an offset and a timestamp, from several topics;
//   - records of one key come from one partition, in publication order;
//   - a publication without topic fails permanently ([rivers.IsPermanent]);
//   - a committed position survives the subscription: the next member of
//     the group gets only later records;
//   - records not committed when a member closes are delivered again to the
//     next member, and the committed ones are not;
//   - committing an older record than one already committed does not move
//     the group's position back;
//   - a cancelled Publish fails with ctx's error;
//   - two groups each get every record, and two members of one group
//     together get every record (however the transport shares them out);
//   - Fetch returns ctx.Err() (wrapped) when ctx is cancelled or expires;
//   - Close is idempotent: Subscription.Close and Transport.Close return nil
//     when called again; Fetch on a closed subscription fails at once, and
//     Publish and Subscribe on a closed transport fail;
//   - Commit on a closed subscription fails and does not move the group;
//   - the optional interfaces, when implemented, are sane: Lag is never
//     negative and reaches 0 once everything was fetched and committed,
//     Ready becomes nil, EndOffsets are past every fetched offset, and
//     Assignment lists the partitions records were fetched from.
//
// Subtests run in parallel, each with fresh topics and consumer groups.
func RunTransportSuite(t *testing.T, f TransportFactory) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, *suiteRun)
	}{
		{"PublishFetch", testPublishFetch},
		{"OrderPerKey", testOrderPerKey},
		{"PublishWithoutTopicIsPermanent", testPublishWithoutTopic},
		{"PublishHonoursContext", testPublishContext},
		{"CommittedPositionSurvives", testCommittedPositionSurvives},
		{"UncommittedRedelivered", testUncommittedRedelivered},
		{"OlderCommitDoesNotMoveBack", testOlderCommit},
		{"GroupsIndependent", testGroupsIndependent},
		{"MembersShareTheGroup", testMembersShare},
		{"FetchHonoursContext", testFetchContext},
		{"Close", testClose},
		{"CommitAfterClose", testCommitAfterClose},
		{"OptionalInterfaces", testOptional},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 3*suiteWait)
			t.Cleanup(cancel)
			tc.run(t, &suiteRun{f: f, ctx: ctx})
		})
	}
}

type suiteRun struct {
	f   TransportFactory
	ctx context.Context
}

// transport returns a fresh transport, closed at the end of the subtest,
// and n fresh topics.
func (s *suiteRun) transport(t *testing.T, n int) (rivers.Transport, []string) {
	t.Helper()
	tr, topics := s.f(t, n)
	if tr == nil || len(topics) < n {
		t.Fatalf("transport factory returned %v and %d topics, want a transport and %d", tr, len(topics), n)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Transport.Close: %v", err)
		}
	})
	return tr, topics
}

func (s *suiteRun) publish(t *testing.T, tr rivers.Transport, records ...rivers.Record) {
	t.Helper()
	if err := tr.Publish(s.ctx, records...); err != nil {
		t.Fatalf("Publish of %d records: %v", len(records), err)
	}
}

func (s *suiteRun) subscribe(t *testing.T, tr rivers.Transport, group string, topics ...string) rivers.Subscription {
	t.Helper()
	sub, err := tr.Subscribe(s.ctx, group, topics)
	if err != nil {
		t.Fatalf("Subscribe(%s, %v): %v", group, topics, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func (s *suiteRun) fetch(t *testing.T, sub rivers.Subscription, what string) rivers.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, suiteWait)
	defer cancel()
	r, err := sub.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch (%s): %v", what, err)
	}
	return r
}

// fetchN fetches n records.
func (s *suiteRun) fetchN(t *testing.T, sub rivers.Subscription, n int) []rivers.Record {
	t.Helper()
	out := make([]rivers.Record, 0, n)
	for len(out) < n {
		out = append(out, s.fetch(t, sub, fmt.Sprintf("record %d of %d", len(out)+1, n)))
	}
	return out
}

func (s *suiteRun) commit(t *testing.T, sub rivers.Subscription, records ...rivers.Record) {
	t.Helper()
	if err := sub.Commit(s.ctx, records...); err != nil {
		t.Fatalf("Commit of %d records: %v", len(records), err)
	}
}

func closeSub(t *testing.T, sub rivers.Subscription) {
	t.Helper()
	if err := sub.Close(); err != nil {
		t.Fatalf("Subscription.Close: %v", err)
	}
}

// suiteRecord is record i of a subtest: its value and its "seq" header
// are i.
func suiteRecord(topic, key string, i int) rivers.Record {
	seq := strconv.Itoa(i)
	return rivers.Record{
		Topic: topic,
		Key:   []byte(key),
		Value: []byte(`{"seq":` + seq + `}`),
		Headers: []contracts.Header{
			{Key: "seq", Value: []byte(seq)},
			{Key: contracts.HeaderType, Value: []byte("conformance.test.v1")},
		},
	}
}

// seqOf returns the seq header of a record made by suiteRecord.
func seqOf(t *testing.T, r rivers.Record) int {
	t.Helper()
	v, ok := contracts.HeaderValue(r.Headers, "seq")
	if !ok {
		t.Fatalf("fetched record %s/%d@%d has no seq header: %v", r.Topic, r.Partition, r.Offset, r.Headers)
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		t.Fatalf("fetched record %s/%d@%d: seq header %q", r.Topic, r.Partition, r.Offset, v)
	}
	return n
}

// keyed returns n records on topic, with keys cycling through k keys.
func keyed(topic string, n, k int) []rivers.Record {
	out := make([]rivers.Record, n)
	for i := range out {
		out[i] = suiteRecord(topic, "key-"+strconv.Itoa(i%k), i)
	}
	return out
}

func uniqueGroup(name string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "conformance-" + name + "-" + hex.EncodeToString(b[:])
}

func sameRecord(want, got rivers.Record) error {
	switch {
	case got.Topic != want.Topic:
		return fmt.Errorf("topic %q, want %q", got.Topic, want.Topic)
	case !bytes.Equal(got.Key, want.Key):
		return fmt.Errorf("key %q, want %q", got.Key, want.Key)
	case !bytes.Equal(got.Value, want.Value):
		return fmt.Errorf("value %q, want %q", got.Value, want.Value)
	case len(got.Headers) != len(want.Headers):
		return fmt.Errorf("headers %v, want %v", got.Headers, want.Headers)
	}
	for i := range want.Headers {
		if got.Headers[i].Key != want.Headers[i].Key || !bytes.Equal(got.Headers[i].Value, want.Headers[i].Value) {
			return fmt.Errorf("header %d: %s=%q, want %s=%q", i, got.Headers[i].Key, got.Headers[i].Value, want.Headers[i].Key, want.Headers[i].Value)
		}
	}
	return nil
}

// testPublishFetch: records published to two topics are fetched, from a
// subscription to both, as published, each with its position.
func testPublishFetch(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 2)
	var want []rivers.Record
	for i := range 6 {
		want = append(want, suiteRecord(topics[i%2], "key-"+strconv.Itoa(i%3), i))
	}
	// A record without key or headers, and one with binary bytes.
	bare := rivers.Record{Topic: topics[0], Value: []byte(`{"seq":6}`), Headers: []contracts.Header{{Key: "seq", Value: []byte("6")}}}
	binary := suiteRecord(topics[1], "key-\x00\xff", 7)
	binary.Value = []byte{0, 1, 2, 255, '\n'}
	want = append(want, bare, binary)
	s.publish(t, tr, want[:4]...)
	s.publish(t, tr, want[4:]...)

	sub := s.subscribe(t, tr, uniqueGroup("fetch"), topics...)
	got := map[int]rivers.Record{}
	positions := map[rivers.TopicPartition]map[int64]bool{}
	for _, r := range s.fetchN(t, sub, len(want)) {
		i := seqOf(t, r)
		if i < 0 || i >= len(want) {
			t.Fatalf("fetched a record with seq %d, published 0..%d", i, len(want)-1)
		}
		if _, dup := got[i]; dup {
			t.Fatalf("record %d fetched twice", i)
		}
		got[i] = r
		if err := sameRecord(want[i], r); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		tp := rivers.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if r.Partition < 0 || r.Offset < 0 {
			t.Errorf("record %d at partition %d offset %d", i, r.Partition, r.Offset)
		}
		if positions[tp] == nil {
			positions[tp] = map[int64]bool{}
		}
		if positions[tp][r.Offset] {
			t.Errorf("record %d: offset %d of %v given to two records", i, r.Offset, tp)
		}
		positions[tp][r.Offset] = true
		if r.Time.IsZero() {
			t.Errorf("record %d has no timestamp", i)
		}
		if r.HighWaterMark != 0 && r.HighWaterMark <= r.Offset {
			t.Errorf("record %d: high watermark %d not past its offset %d", i, r.HighWaterMark, r.Offset)
		}
	}
}

// testOrderPerKey: the records of one key, published over several calls,
// come from one partition in publication order.
func testOrderPerKey(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	const n, keys = 48, 4
	recs := keyed(topics[0], n, keys)
	for i := 0; i < n; i += 8 {
		s.publish(t, tr, recs[i:i+8]...)
	}
	sub := s.subscribe(t, tr, uniqueGroup("order"), topics[0])
	last := map[string]rivers.Record{}
	for _, r := range s.fetchN(t, sub, n) {
		k := string(r.Key)
		if prev, ok := last[k]; ok {
			switch {
			case r.Partition != prev.Partition:
				t.Errorf("key %s: record %d on partition %d, record %d on %d", k, seqOf(t, prev), prev.Partition, seqOf(t, r), r.Partition)
			case seqOf(t, r) <= seqOf(t, prev) || r.Offset <= prev.Offset:
				t.Errorf("key %s: record %d (offset %d) fetched after record %d (offset %d)", k, seqOf(t, r), r.Offset, seqOf(t, prev), prev.Offset)
			}
		}
		last[k] = r
	}
	if len(last) != keys {
		t.Errorf("fetched %d keys, want %d", len(last), keys)
	}
}

// testPublishWithoutTopic: a record without topic is refused permanently,
// so the SDK dead-letters instead of retrying forever.
func testPublishWithoutTopic(t *testing.T, s *suiteRun) {
	tr, _ := s.transport(t, 1)
	err := tr.Publish(s.ctx, rivers.Record{Key: []byte("k"), Value: []byte("v")})
	if err == nil || !rivers.IsPermanent(err) {
		t.Fatalf("Publish without topic: %v, want a permanent error", err)
	}
}

// testPublishContext: Publish with a cancelled context fails with its
// error.
func testPublishContext(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	ctx, cancel := context.WithCancel(s.ctx)
	cancel()
	if err := tr.Publish(ctx, suiteRecord(topics[0], "k", 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context: %v, want context.Canceled", err)
	}
	s.publish(t, tr, suiteRecord(topics[0], "k", 1)) // and the transport still works
}

// testCommittedPositionSurvives: after a member committed everything it
// fetched and closed, the next member of the group gets only the records
// published since.
func testCommittedPositionSurvives(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	group := uniqueGroup("position")
	first := keyed(topics[0], 12, 4)
	s.publish(t, tr, first...)
	sub := s.subscribe(t, tr, group, topics[0])
	fetched := s.fetchN(t, sub, len(first))
	s.commit(t, sub, fetched...)
	closeSub(t, sub)
	position := map[rivers.TopicPartition]int64{}
	for _, r := range fetched {
		tp := rivers.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		position[tp] = max(position[tp], r.Offset+1)
	}

	later := make([]rivers.Record, 6)
	for i := range later {
		later[i] = suiteRecord(topics[0], "key-"+strconv.Itoa(i%4), len(first)+i)
	}
	s.publish(t, tr, later...)
	sub = s.subscribe(t, tr, group, topics[0])
	for _, r := range s.fetchN(t, sub, len(later)) {
		if i := seqOf(t, r); i < len(first) {
			t.Fatalf("record %d, committed by the group's previous member, delivered again", i)
		}
	}
	// The new member's assignment starts each partition at the committed
	// position (negative: unknown); partition state replays up to it.
	if a, ok := sub.(rivers.AssignmentReporter); ok {
		WaitFor(t, suiteWait, "Assignment to list the partitions committed on", func() bool {
			got := a.Assignment()
			for tp := range position {
				if _, ok := got[tp]; !ok {
					return false
				}
			}
			return true
		})
		for tp, pos := range a.Assignment() {
			if want, ok := position[tp]; ok && pos >= 0 && pos != want {
				t.Errorf("Assignment()[%v] = %d, want the committed position %d", tp, pos, want)
			}
		}
	}
}

// testUncommittedRedelivered: records fetched but not committed when a
// member closes go to the next member; the committed ones do not.
func testUncommittedRedelivered(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	group := uniqueGroup("redeliver")
	const n, half = 12, 6
	s.publish(t, tr, keyed(topics[0], n, 3)...)
	sub := s.subscribe(t, tr, group, topics[0])
	// Commit the records of the first half: per partition they come
	// before those of the second, so exactly the first half is committed.
	var done []rivers.Record
	for _, r := range s.fetchN(t, sub, n) {
		if seqOf(t, r) < half {
			done = append(done, r)
		}
	}
	s.commit(t, sub, done...)
	closeSub(t, sub)

	sub = s.subscribe(t, tr, group, topics[0])
	again := map[int]bool{}
	for len(again) < n-half {
		r := s.fetch(t, sub, fmt.Sprintf("uncommitted records: %d of %d delivered again", len(again), n-half))
		i := seqOf(t, r)
		if i < half {
			t.Fatalf("committed record %d delivered again", i)
		}
		again[i] = true
	}
}

// testOlderCommit: committing a record older than the group's committed
// position, by a member that comes later, leaves the position where it
// was.
func testOlderCommit(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	group := uniqueGroup("older")
	recs := keyed(topics[0], 6, 1) // one key: one partition
	s.publish(t, tr, recs...)
	sub := s.subscribe(t, tr, group, topics[0])
	got := s.fetchN(t, sub, len(recs))
	for i, r := range got {
		if seqOf(t, r) != i {
			t.Fatalf("record %d fetched as the %dth of its key", seqOf(t, r), i)
		}
	}
	s.commit(t, sub, got[3])
	s.commit(t, sub, got[1]) // older: no effect
	closeSub(t, sub)

	sub = s.subscribe(t, tr, group, topics[0])
	if r := s.fetch(t, sub, "after the commit of record 3"); seqOf(t, r) != 4 {
		t.Fatalf("after committing records 3 then 1, the next member starts at record %d, want 4", seqOf(t, r))
	}
	s.commit(t, sub, got[0]) // older than the group's position: no effect
	closeSub(t, sub)

	sub = s.subscribe(t, tr, group, topics[0])
	if r := s.fetch(t, sub, "after a later member committed record 0"); seqOf(t, r) != 4 {
		t.Fatalf("a member's commit of record 0 moved the group back: the next member starts at record %d, want 4", seqOf(t, r))
	}
}

// testGroupsIndependent: two groups each get every record.
func testGroupsIndependent(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	const n = 10
	s.publish(t, tr, keyed(topics[0], n, 3)...)
	a := s.subscribe(t, tr, uniqueGroup("a"), topics[0])
	b := s.subscribe(t, tr, uniqueGroup("b"), topics[0])
	for name, sub := range map[string]rivers.Subscription{"a": a, "b": b} {
		seen := map[int]bool{}
		for _, r := range s.fetchN(t, sub, n) {
			seen[seqOf(t, r)] = true
		}
		if len(seen) != n {
			t.Errorf("group %s got %d distinct records of %d", name, len(seen), n)
		}
	}
}

// testMembersShare: two members of one group, fetching and committing at
// once, together get every record; which member gets which is the
// transport's choice (Kafka shares the partitions out, the Bus gives the
// newest member all of them).
func testMembersShare(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	group := uniqueGroup("share")
	const n = 24
	subs := []rivers.Subscription{s.subscribe(t, tr, group, topics[0]), s.subscribe(t, tr, group, topics[0])}
	s.publish(t, tr, keyed(topics[0], n, 6)...)

	ctx, cancel := context.WithTimeout(s.ctx, suiteWait)
	defer cancel()
	got := make(chan rivers.Record)
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() {
			for {
				r, err := sub.Fetch(ctx)
				if err != nil {
					return // ctx done: the test is over
				}
				if err := sub.Commit(ctx, r); err != nil && ctx.Err() == nil {
					t.Errorf("Commit: %v", err)
				}
				select {
				case got <- r:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	seen := map[int]bool{}
	for len(seen) < n {
		select {
		case r := <-got:
			seen[seqOf(t, r)] = true
		case <-ctx.Done():
			t.Errorf("the group's two members got %d distinct records of %d in %s", len(seen), n, suiteWait)
		}
		if ctx.Err() != nil {
			break
		}
	}
	cancel()
	wg.Wait()
}

// testFetchContext: Fetch on an idle subscription returns once ctx
// expires or is cancelled, with ctx's error.
func testFetchContext(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	sub := s.subscribe(t, tr, uniqueGroup("ctx"), topics[0])

	ctx, cancel := context.WithTimeout(s.ctx, 200*time.Millisecond)
	_, err := sub.Fetch(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Fetch past its deadline: %v, want context.DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() {
		_, err := sub.Fetch(ctx)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(suiteWait):
		t.Fatalf("Fetch still blocked %s after its context was cancelled", suiteWait)
	}

	// The subscription still works after a Fetch gave up.
	s.publish(t, tr, suiteRecord(topics[0], "k", 0))
	if r := s.fetch(t, sub, "after cancelled fetches"); seqOf(t, r) != 0 {
		t.Errorf("fetched record %d, want 0", seqOf(t, r))
	}
}

// testClose: Close may be called again; a closed subscription's Fetch fails
// at once, and a closed transport refuses Publish and Subscribe.
func testClose(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	s.publish(t, tr, suiteRecord(topics[0], "k", 0))
	sub := s.subscribe(t, tr, uniqueGroup("close"), topics[0])
	s.commit(t, sub, s.fetch(t, sub, "before Close"))
	closeSub(t, sub)
	if err := sub.Close(); err != nil {
		t.Errorf("second Subscription.Close: %v, want nil", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, suiteWait)
	defer cancel()
	if _, err := sub.Fetch(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("Fetch on a closed subscription: %v (ctx %v), want an error at once", err, ctx.Err())
	}

	if err := tr.Close(); err != nil {
		t.Fatalf("Transport.Close: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Transport.Close: %v, want nil", err)
	}
	if err := tr.Publish(s.ctx, suiteRecord(topics[0], "k", 1)); err == nil {
		t.Error("Publish after Close succeeded")
	}
	if sub, err := tr.Subscribe(s.ctx, uniqueGroup("closed"), topics); err == nil {
		_ = sub.Close()
		t.Error("Subscribe after Close succeeded")
	}
}

// testCommitAfterClose: a member that has left its group cannot commit
// for it: its Commit fails, and the next member gets the record.
func testCommitAfterClose(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	group := uniqueGroup("late-commit")
	s.publish(t, tr, keyed(topics[0], 2, 1)...)
	sub := s.subscribe(t, tr, group, topics[0])
	got := s.fetchN(t, sub, 2)
	s.commit(t, sub, got[0])
	closeSub(t, sub)
	if err := sub.Commit(s.ctx, got[1]); err == nil {
		t.Error("Commit on a closed subscription succeeded")
	}
	sub = s.subscribe(t, tr, group, topics[0])
	if r := s.fetch(t, sub, "after a commit on a closed subscription"); seqOf(t, r) != 1 {
		t.Fatalf("the next member starts at record %d, want 1: the closed member's commit counted", seqOf(t, r))
	}
}

// testOptional checks the optional interfaces a subscription implements.
func testOptional(t *testing.T, s *suiteRun) {
	tr, topics := s.transport(t, 1)
	const n = 9
	s.publish(t, tr, keyed(topics[0], n, 3)...)
	sub := s.subscribe(t, tr, uniqueGroup("optional"), topics[0])
	lag, hasLag := sub.(rivers.LagReporter)
	ready, hasReady := sub.(rivers.ReadinessChecker)
	ends, hasEnds := sub.(rivers.EndOffsetReporter)
	assign, hasAssign := sub.(rivers.AssignmentReporter)
	t.Logf("optional interfaces: LagReporter %v, ReadinessChecker %v, EndOffsetReporter %v, AssignmentReporter %v",
		hasLag, hasReady, hasEnds, hasAssign)
	if hasLag {
		if l := lag.Lag(); l < 0 {
			t.Errorf("Lag before any fetch = %d", l)
		}
	}
	if hasReady {
		WaitFor(t, suiteWait, "Ready to return nil", func() bool { return ready.Ready(s.ctx) == nil })
	}

	got := s.fetchN(t, sub, n)
	last := map[rivers.TopicPartition]int64{}
	for _, r := range got {
		tp := rivers.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		last[tp] = max(last[tp], r.Offset)
		if hasLag {
			if l := lag.Lag(); l < 0 {
				t.Errorf("Lag while fetching = %d", l)
			}
		}
	}
	s.commit(t, sub, got...)
	if hasLag {
		WaitFor(t, suiteWait, "Lag to reach 0 once everything was fetched and committed", func() bool {
			l := lag.Lag()
			if l < 0 {
				t.Fatalf("Lag = %d", l)
			}
			return l == 0
		})
	}
	if hasEnds {
		ctx, cancel := context.WithTimeout(s.ctx, suiteWait)
		end, err := ends.EndOffsets(ctx)
		cancel()
		if err != nil {
			t.Errorf("EndOffsets: %v", err)
		}
		for tp, off := range last {
			if e, ok := end[tp]; !ok || e < off+1 {
				t.Errorf("EndOffsets[%v] = %d (present %v), want at least %d (last fetched offset + 1)", tp, e, ok, off+1)
			}
		}
	}
	if hasAssign {
		WaitFor(t, suiteWait, "Assignment to list every partition fetched from", func() bool {
			a := assign.Assignment()
			for tp := range last {
				if _, ok := a[tp]; !ok {
					return false
				}
			}
			return true
		})
	}
	if hasReady {
		if err := ready.Ready(s.ctx); err != nil {
			t.Errorf("Ready after fetching: %v", err)
		}
	}
}

// KafkaTransportFactory returns a [TransportFactory] of
// [rivers.NewKafkaTransport]s with opts on k's broker (one of [Kafkas]),
// each subtest with fresh topics of partitions partitions.
func KafkaTransportFactory(k Target, partitions int, opts ...rapids.ConsumerOption) TransportFactory {
	return func(t *testing.T, n int) (rivers.Transport, []string) {
		t.Helper()
		var b [4]byte
		_, _ = rand.Read(b[:])
		suffix := hex.EncodeToString(b[:])
		specs := make([]rapids.TopicSpec, n)
		topics := make([]string, n)
		for i := range specs {
			topics[i] = "conformance-" + suffix + "-" + strconv.Itoa(i)
			specs[i] = rapids.TopicSpec{Name: topics[i], Partitions: partitions, ReplicationFactor: -1}
		}
		ctx, cancel := context.WithTimeout(t.Context(), suiteWait)
		defer cancel()
		if err := rapids.EnsureTopics(ctx, k.Kafka, specs...); err != nil {
			t.Fatalf("riverstest: create topics on %v: %v", k.Kafka.Brokers, err)
		}
		tr, err := rivers.NewKafkaTransport(k.Kafka, opts...)
		if err != nil {
			t.Fatalf("riverstest: kafka transport: %v", err)
		}
		return tr, topics
	}
}
