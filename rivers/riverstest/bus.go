package riverstest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rivers"
)

// Bus is an in-memory [rivers.Transport]: one partition per topic, consumer
// groups with committed offsets, and at-least-once delivery like Kafka's —
// a record not committed before a subscription closes is delivered again to
// the next member of its group. A group has one member at a time: a new
// subscription takes the group's partitions over, and the one it replaced
// sees them revoked (its Assignment empties, Rebalanced fires, its Fetch
// waits). Subscriptions read a partition's history outside the group
// (ReadPartition), so services that keep state per partition
// (rivers.PartitionState) rebuild it on the Bus as on Kafka. Several services can share one Bus to test
// how they talk to each other.
//
// It is safe for concurrent use.
type Bus struct {
	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	topics    map[string][]rivers.Record
	committed map[string]map[string]int64 // group → topic → next offset
	members   map[string]*subscription    // group → its current member
	failures  []error                     // returned by the next Publish calls
	closed    bool
	now       func() time.Time
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{
		changed:   make(chan struct{}),
		topics:    map[string][]rivers.Record{},
		committed: map[string]map[string]int64{},
		members:   map[string]*subscription{},
		now:       time.Now,
	}
}

// ErrBusClosed is returned by a closed Bus.
var ErrBusClosed = errors.New("riverstest: bus closed")

func (b *Bus) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// FailPublish makes the next len(errs) Publish calls fail with errs, in
// order, storing nothing: to test how a service rides out a broker outage.
// Mark an error with rivers.Permanent for a record the broker refuses.
func (b *Bus) FailPublish(errs ...error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = append(b.failures, errs...)
}

// Publish appends records to their topics. Each gets the next offset of
// partition 0 and, when it has none, the current time.
func (b *Bus) Publish(ctx context.Context, records ...rivers.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBusClosed
	}
	if len(b.failures) > 0 {
		err := b.failures[0]
		b.failures = b.failures[1:]
		return err
	}
	for _, r := range records {
		if r.Topic == "" {
			return rivers.Permanent(errors.New("riverstest: record without topic"))
		}
		b.appendLocked(r)
	}
	b.broadcast()
	return nil
}

// Append publishes one record from outside any service and returns it with
// its offset.
func (b *Bus) Append(r rivers.Record) (rivers.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return rivers.Record{}, ErrBusClosed
	}
	r = b.appendLocked(r)
	b.broadcast()
	return r, nil
}

func (b *Bus) appendLocked(r rivers.Record) rivers.Record {
	r = clone(r)
	r.Partition = 0
	r.Offset = int64(len(b.topics[r.Topic]))
	if r.Time.IsZero() {
		r.Time = b.now()
	}
	b.topics[r.Topic] = append(b.topics[r.Topic], r)
	return r
}

// Records returns a copy of the records of topic, in offset order.
func (b *Bus) Records(topic string) []rivers.Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]rivers.Record, len(b.topics[topic]))
	for i, r := range b.topics[topic] {
		out[i] = clone(r)
	}
	return out
}

// Topics returns the names of the topics with records, sorted.
func (b *Bus) Topics() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.topics))
	for t := range b.topics {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Committed returns group's committed offset on topic: the offset of the
// next record it will read (0 when it committed nothing).
func (b *Bus) Committed(group, topic string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.committed[group][topic]
}

// WaitCommitted blocks until group has committed offset on topic (its
// committed offset is past it) or ctx is done.
func (b *Bus) WaitCommitted(ctx context.Context, group, topic string, offset int64) error {
	for {
		b.mu.Lock()
		done := b.committed[group][topic] > offset
		ch := b.changed
		b.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Subscribe joins group on topics. A group has one member at a time here:
// a new subscription takes over every topic it names.
func (b *Bus) Subscribe(_ context.Context, group string, topics []string) (rivers.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrBusClosed
	}
	if b.committed[group] == nil {
		b.committed[group] = map[string]int64{}
	}
	s := &subscription{b: b, group: group, topics: slices.Clone(topics), pos: map[string]int64{},
		rebalanced: make(chan struct{}, 1), assigned: map[rivers.TopicPartition]int64{}}
	for _, t := range topics {
		s.pos[t] = b.committed[group][t]
		s.assigned[rivers.TopicPartition{Topic: t}] = s.pos[t]
	}
	if old := b.members[group]; old != nil && !old.closed {
		old.assigned = map[rivers.TopicPartition]int64{}
		old.signal()
	}
	b.members[group] = s
	s.signal()
	b.broadcast()
	return s, nil
}

// Close closes the bus: calls fail and fetches return.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.broadcast()
	}
	return nil
}

type subscription struct {
	b      *Bus
	group  string
	topics []string
	pos    map[string]int64 // next offset to deliver, per topic
	next   int              // round-robin start
	closed bool

	rebalanced chan struct{}
	assigned   map[rivers.TopicPartition]int64 // empty once another member took over
}

func (s *subscription) signal() {
	select {
	case s.rebalanced <- struct{}{}:
	default:
	}
}

// Rebalanced receives after the subscription got its partitions and after
// another member of its group took them over.
func (s *subscription) Rebalanced() <-chan struct{} { return s.rebalanced }

// Assignment returns the partitions the subscription holds, each with the
// group's committed offset when it got it; empty once another member of
// the group took over.
func (s *subscription) Assignment() map[rivers.TopicPartition]int64 {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	out := make(map[rivers.TopicPartition]int64, len(s.assigned))
	for k, v := range s.assigned {
		out[k] = v
	}
	return out
}

// ReadPartition calls fn with the records of tp whose time is at or after
// since, up to offset end, outside the group.
func (s *subscription) ReadPartition(ctx context.Context, tp rivers.TopicPartition, since time.Time, end int64, fn func(rivers.Record) error) error {
	s.b.mu.Lock()
	var recs []rivers.Record
	if tp.Partition == 0 {
		for _, r := range s.b.topics[tp.Topic] {
			if r.Offset >= end {
				break
			}
			if !r.Time.Before(since) {
				recs = append(recs, clone(r))
			}
		}
	}
	s.b.mu.Unlock()
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.HighWaterMark = end
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *subscription) Fetch(ctx context.Context) (rivers.Record, error) {
	for {
		s.b.mu.Lock()
		if s.closed || s.b.closed {
			s.b.mu.Unlock()
			return rivers.Record{}, ErrBusClosed
		}
		for i := range s.topics {
			if len(s.assigned) == 0 {
				break // another member took the group's partitions over
			}
			t := s.topics[(s.next+i)%len(s.topics)]
			if p := s.pos[t]; p < int64(len(s.b.topics[t])) {
				s.pos[t] = p + 1
				s.next = (s.next + i + 1) % len(s.topics)
				r := clone(s.b.topics[t][p])
				r.HighWaterMark = int64(len(s.b.topics[t]))
				s.b.mu.Unlock()
				return r, nil
			}
		}
		ch := s.b.changed
		s.b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return rivers.Record{}, ctx.Err()
		}
	}
}

// EndOffsets returns each subscribed topic's end offset (one partition).
func (s *subscription) EndOffsets(context.Context) (map[rivers.TopicPartition]int64, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	out := map[rivers.TopicPartition]int64{}
	for _, t := range s.topics {
		out[rivers.TopicPartition{Topic: t}] = int64(len(s.b.topics[t]))
	}
	return out, nil
}

func (s *subscription) Commit(_ context.Context, records ...rivers.Record) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.closed || s.b.closed {
		return ErrBusClosed // a member that left commits nothing, as on Kafka
	}
	c := s.b.committed[s.group]
	for _, r := range records {
		if r.Offset+1 > c[r.Topic] {
			c[r.Topic] = r.Offset + 1
		}
	}
	s.b.broadcast()
	return nil
}

func (s *subscription) Close() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.closed = true
	s.b.broadcast()
	return nil
}

// Lag returns the records after the group's committed offsets.
func (s *subscription) Lag() int64 {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	var n int64
	for _, t := range s.topics {
		n += int64(len(s.b.topics[t])) - s.b.committed[s.group][t]
	}
	return n
}

func clone(r rivers.Record) rivers.Record {
	r.Key = slices.Clone(r.Key)
	r.Value = slices.Clone(r.Value)
	hs := make([]contracts.Header, len(r.Headers))
	for i, h := range r.Headers {
		hs[i] = contracts.Header{Key: h.Key, Value: slices.Clone(h.Value)}
	}
	r.Headers = hs
	return r
}
