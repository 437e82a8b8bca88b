package rivers

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// PartitionState declares that a service keeps state per partition of
// one or more topics (a stateful stage-1 service on the rapids; a stage
// that also keeps what it read, or published, on the rivers): its state
// for a partition is a function of that partition's own records. Such a service
// can run as N instances in one consumer group, N at most the topic's
// partition count, and reach the conclusions one instance would, also when
// an instance dies and its partitions move to the others:
//
//   - when the group assigns the instance a partition it did not hold, the
//     SDK calls Assigned (drop anything held for it), then replays the
//     partition's history — its records from History of record time ago up
//     to the group's committed offset — through the service's rivers with
//     [Delivery.Replay] set: handlers rebuild the state the previous owner
//     had; what they publish is discarded, and nothing is committed. The
//     partition's new records follow the replay, in offset order;
//   - when a rebalance takes a partition away, the SDK calls Revoked after
//     the worker has handled the partition's records fetched before:
//     the service drops the partition's state;
//   - the service's timers do not run while a rebalance is being handled
//     (from the group's new assignment until the replays and revocations
//     it causes are done): a timer never judges with a partition half
//     rebuilt, nor with the state of a partition the instance gave away;
//   - de-duplication on the topic is per partition, in memory, for as long
//     as the instance holds the partition (it starts empty with the
//     replay): a duplicate record is dropped however the partition moved,
//     and a shared [DedupStore] cannot hide from a new owner records its
//     previous owner handled but did not commit.
//
// A partition without a committed offset has no history to replay: the
// group starts it at its first record (or its last, with a Latest start
// offset, and then the state starts empty). A replay reads up to the
// committed offset, offset by offset; on a topic written by transactional
// producers (control records) it could wait for the next record: the
// rapids and rivers are not.
//
// Replay costs a read of the history at every assignment (at the start of
// every instance, and for the partitions a rebalance moves): History bounds
// it. Replays hold the fetching of every partition until done. The steady
// state pays one atomic load and a slice lookup per record.
//
// Without a transport that can read a partition's history (Kafka, and the
// riverstest Bus, can) the service logs a warning and runs as before.
type PartitionState struct {
	// Topics are the topics whose partitions carry the state. Default
	// {Rapids}. With several, each topic's partitions are replayed on
	// their own: replayed records of two topics do not come in the order
	// they were first read, so the state must not depend on that order
	// (live records of two topics never had an order either).
	Topics []Topic
	// History is how much record time before now a replay reads; 0 reads
	// everything the partition retains. Declare what the state needs:
	// for example a tracker's grace plus the longest silence it reports,
	// or an aggregator's correction horizon plus its lateness. Replaying
	// more than needed is exact, only slower.
	History time.Duration
	// Assigned is called, on a worker goroutine, before the replay of a
	// partition the instance was just assigned: drop any state held for it
	// (a checkpoint's, or an earlier ownership's). May be nil.
	Assigned func(TopicPartition)
	// Revoked is called, on a worker goroutine, once the records of a
	// partition taken away are handled: drop its state. May be nil.
	Revoked func(TopicPartition)
}

// KeepPartitionState declares the state the service keeps per partition;
// see [PartitionState]. Call it once, before Run or Serve.
func (s *Service) KeepPartitionState(ps PartitionState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("rivers: KeepPartitionState: the service has started")
	}
	if s.partState != nil {
		panic("rivers: KeepPartitionState called twice")
	}
	if len(ps.Topics) == 0 {
		ps.Topics = []Topic{Rapids}
	}
	s.partState = &ps
}

// partitionHistory is a Subscription that tells when its group assigned
// it partitions and reads a partition's history outside the group.
type partitionHistory interface {
	AssignmentReporter
	// Rebalanced receives after each new assignment (coalesced).
	Rebalanced() <-chan struct{}
	// ReadPartition calls fn with the records of tp from the first whose
	// record time is at or after since (zero: the first retained) up to,
	// not including, offset end.
	ReadPartition(ctx context.Context, tp TopicPartition, since time.Time, end int64, fn func(Record) error) error
}

// marker kinds: work for a worker that is not a record.
const (
	markNone     uint8 = iota
	markAssign         // a replay begins: call Assigned
	markReplayed       // the replay is done
	markRevoke         // call Revoked
)

// partitions is the per-partition state machinery of one Serve. The
// fetching goroutine owns owned; the counters are shared with workers and
// timers.
type partitions struct {
	topics []string // resolved names of the state's topics
	cfg    PartitionState
	src    partitionHistory
	dedup  func() DedupStore
	// dedupSize is each held partition's share of DEDUP_SIZE.
	dedupSize int

	owned map[TopicPartition]DedupStore // the de-dup store of each held partition

	dirty atomic.Bool  // an assignment not handled yet by the fetching goroutine
	busy  atomic.Int64 // markers queued and not yet handled, plus a rebalance in hand
	kick  chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc // of the fetch in progress
}

// minPartitionDedup is the least a partition's de-dup store remembers.
const minPartitionDedup = 1000

func newPartitions(s *Service, rt *runtime) *partitions {
	if s.partState == nil || rt.sub == nil {
		return nil
	}
	src, ok := rt.sub.(partitionHistory)
	if !ok {
		s.log.Warn("the transport cannot replay a partition's history: state per partition is not rebuilt on assignment; run one instance")
		return nil
	}
	ps := *s.partState
	p := &partitions{cfg: ps, src: src, kick: make(chan struct{}, 1),
		dedupSize: s.cfg.DedupSize, owned: map[TopicPartition]DedupStore{}}
	for _, t := range ps.Topics {
		if name := s.cfg.topic(t); !slices.Contains(p.topics, name) {
			p.topics = append(p.topics, name)
		}
	}
	// Each held partition has a store of its own; together they keep the
	// service's DEDUP_SIZE (six partitions of six full stores took six times
	// the memory, and watershed dev's GC fell behind for it).
	p.dedup = func() DedupStore {
		return NewMemoryDedup(s.cfg.DedupWindow, p.dedupSize, func() time.Time { return s.clock.Now() })
	}
	p.dirty.Store(true) // the first assignment
	return p
}

// watch turns the subscription's rebalance signals into dirty and
// interrupts the fetch in progress, until ctx ends.
func (p *partitions) watch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.src.Rebalanced():
		}
		p.dirty.Store(true)
		notify(p.kick)
		p.mu.Lock()
		if p.cancel != nil {
			p.cancel()
		}
		p.mu.Unlock()
	}
}

// fetchContext returns the context of the next fetch: ctx, cancelled as
// well by the next rebalance signal.
func (p *partitions) fetchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithCancel(ctx)
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
	return fctx, cancel
}

// settling reports whether a rebalance is being handled: timers wait.
// dirty is read before busy: rebalance raises busy before it clears dirty.
func (p *partitions) settling() bool {
	return p.dirty.Load() || p.busy.Load() > 0
}

// keeps reports whether topic's partitions carry the state.
func (p *partitions) keeps(topic string) bool {
	for _, t := range p.topics {
		if t == topic {
			return true
		}
	}
	return false
}

// store returns the de-dup store of a held partition; nil when not held.
func (p *partitions) store(tp TopicPartition) DedupStore {
	return p.owned[tp]
}

// rebalance compares the subscription's assignment with the partitions
// held: it queues a revocation for each partition given away and, for
// each new one, Assigned, its replay and the end of the replay, ahead of
// its new records. It returns false when ctx ended.
func (s *Service) rebalance(rt *runtime, ctx context.Context, queues []*handoff) bool {
	p := rt.parts
	p.busy.Add(1)
	defer p.busy.Add(-1)
	p.dirty.Store(false)
	assigned := map[TopicPartition]int64{}
	for tp, off := range p.src.Assignment() {
		if p.keeps(tp.Topic) {
			assigned[tp] = off
		}
	}
	// A partition's markers go to the worker its records go to.
	queueOf := func(tp TopicPartition) *handoff { return queues[tp.Partition%len(queues)] }
	p.dedupSize = max(s.cfg.DedupSize/max(len(assigned), 1), minPartitionDedup)
	for _, tp := range slices.SortedFunc(maps.Keys(p.owned), compareTP) {
		if _, ok := assigned[tp]; !ok {
			delete(p.owned, tp)
			p.busy.Add(1)
			if !queueOf(tp).putMarker(ctx, markRevoke, tp.Topic, tp.Partition) {
				return false
			}
			s.log.Info("partition revoked: its state is dropped", "topic", tp.Topic, "partition", tp.Partition)
		}
	}
	for _, tp := range slices.SortedFunc(maps.Keys(assigned), compareTP) {
		if p.store(tp) != nil {
			continue
		}
		st := p.dedup()
		p.owned[tp] = st
		q := queueOf(tp)
		p.busy.Add(1)
		if !q.putMarker(ctx, markAssign, tp.Topic, tp.Partition) {
			return false
		}
		if !s.replay(rt, ctx, q, tp, assigned[tp], st) {
			return false
		}
		if !q.putMarker(ctx, markReplayed, tp.Topic, tp.Partition) {
			return false
		}
	}
	return true
}

func compareTP(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// replay queues the history of tp before offset end, marked as replay.
func (s *Service) replay(rt *runtime, ctx context.Context, q *handoff, tp TopicPartition, end int64, st DedupStore) bool {
	if end <= 0 {
		s.log.Info("partition assigned: no history to replay", "topic", tp.Topic, "partition", tp.Partition)
		return true
	}
	p := rt.parts
	var since time.Time
	if p.cfg.History > 0 {
		since = s.clock.Now().Add(-p.cfg.History)
	}
	began := time.Now()
	wait := 100 * time.Millisecond
	for {
		var n int64
		var first int64 = -1
		err := p.src.ReadPartition(ctx, tp, since, end, func(rec Record) error {
			if first < 0 {
				first = rec.Offset
			}
			n++
			typ, hasType := contracts.HeaderValue(rec.Headers, contracts.HeaderType)
			route := s.match(rt, &rec, typ)
			if !q.putReplay(ctx, &rec, route, hasType && len(typ) > 0, st) {
				return ctx.Err()
			}
			return nil
		})
		if err == nil {
			s.log.Info("partition assigned: history replayed", "topic", tp.Topic, "partition", tp.Partition,
				"from", first, "to", end, "records", n, "took", time.Since(began).Round(time.Millisecond))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if n > 0 {
			// Records already queued would be replayed twice: start the
			// partition over (Assigned drops what they built) with a new
			// de-dup store.
			s.log.Error("replay failed midway; starting the partition over", "topic", tp.Topic, "partition", tp.Partition, "error", err)
			if !q.putMarker(ctx, markAssign, tp.Topic, tp.Partition) {
				return false
			}
			st = p.dedup()
			p.owned[tp] = st
		} else {
			s.log.Warn("replay failed, retrying", "topic", tp.Topic, "partition", tp.Partition, "error", err, "wait", wait)
		}
		if (SystemClock{}).Sleep(ctx, wait) != nil {
			return false
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// admit is the fetching goroutine's check of a record of the stateful
// topic: it must come from a held partition. A record of a partition not
// held yet (kafka-go starts reading a new assignment just before it
// signals it) waits until the assignment is handled; it is never dropped
// (a later record's commit would skip it), so a record the assignment
// never names holds the fetching until the service stops, with a warning
// every few seconds. It returns the record's de-dup store, and false when
// ctx ended.
func (s *Service) admit(rt *runtime, ctx context.Context, rec *Record, queues []*handoff) (DedupStore, bool) {
	p := rt.parts
	tp := TopicPartition{rec.Topic, rec.Partition}
	if st := p.store(tp); st != nil {
		return st, true
	}
	for i := 1; ; i++ {
		if !s.rebalance(rt, ctx, queues) {
			return nil, false
		}
		if st := p.store(tp); st != nil {
			return st, true
		}
		if i%50 == 0 {
			s.log.Warn("a record of a partition not assigned to this instance: waiting for the assignment",
				"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
		}
		select {
		case <-p.kick:
		case <-ctx.Done():
			return nil, false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// handleMarker runs a marker on a worker.
func (s *Service) handleMarker(rt *runtime, m *prepared) {
	p := rt.parts
	switch m.mark {
	case markAssign:
		if p.cfg.Assigned != nil {
			p.cfg.Assigned(TopicPartition{m.rec.Topic, m.rec.Partition})
		}
	case markReplayed:
		p.busy.Add(-1)
	case markRevoke:
		if p.cfg.Revoked != nil {
			p.cfg.Revoked(TopicPartition{m.rec.Topic, m.rec.Partition})
		}
		p.busy.Add(-1)
	default:
		panic(fmt.Sprintf("rivers: unknown marker %d", m.mark))
	}
}

// handleSegments is handleChunk for a service that keeps partition state:
// markers split the chunk, so each runs after the records before it and
// before those after it, and replayed records are neither published nor
// committed.
func (s *Service) handleSegments(rt *runtime, chunk []prepared) bool {
	start := 0
	for i := 0; i <= len(chunk); i++ {
		if i < len(chunk) && chunk[i].mark == markNone {
			continue
		}
		if seg := chunk[start:i]; len(seg) > 0 {
			items, ok := s.processChunk(rt, seg)
			if !ok {
				return false
			}
			kept := items[:0]
			for j := range items {
				if !seg[j].replay {
					kept = append(kept, items[j])
				}
			}
			if len(kept) > 0 && rt.send.enqueueChunk(kept) != nil {
				return false
			}
		}
		if i < len(chunk) {
			s.handleMarker(rt, &chunk[i])
		}
		start = i + 1
	}
	return true
}
