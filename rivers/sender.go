package rivers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// item is one unit of work for the sender: the records a handled event (or
// a timer, or a direct publication) produced, and the consumed record to
// commit once they are acknowledged.
type item struct {
	in   *Record    // consumed record to commit; nil for origin publications
	out  []Record   // records to publish first
	done chan error // closed after the acknowledgement when someone waits
	dead bool       // out holds a dead letter (not counted as published)
	err  error      // result for done
	// counts are the dead letters in out, counted once acknowledged.
	counts  []deadCount
	minimal bool // out's dead letters were cut to their minimal form
	// handled: a handler processed in (heartbeats' last_processed_at);
	// records no river wanted, dropped or dead-lettered are only committed.
	handled bool
}

// deadCount is one dead letter to count: type, river and class.
type deadCount struct{ typ, river, class string }

// sender publishes the records of items in order, in batches, and commits
// the consumed records once their outputs are acknowledged. One goroutine
// runs it, so publications keep the order in which events were handled,
// while handling goes on during the broker round trip.
type sender struct {
	s     *Service
	tr    Transport
	sub   Subscription
	ctx   context.Context // cancelled when the shutdown deadline passes
	queue chan *item
	done  chan struct{}
	log   *slog.Logger

	closeOnce sync.Once
	mu        sync.RWMutex // guards closed against sends on a closed queue
	closed    bool

	failing atomic.Pointer[publishFailure] // set while sends fail, for /readyz
	ins     []Record                       // consumed records of the batch being flushed
}

// publishFailure is the state of a broker outage seen by the sender.
type publishFailure struct {
	since time.Time
	err   error
}

// health returns an error while publishing fails.
func (sn *sender) health() error {
	if f := sn.failing.Load(); f != nil {
		return fmt.Errorf("publishing has failed since %s: %w", f.since.UTC().Format(time.RFC3339), f.err)
	}
	return nil
}

func (sn *sender) noteFailure(err error) {
	if sn.failing.Load() == nil {
		sn.failing.Store(&publishFailure{since: time.Now(), err: err})
	}
}

// maxBatchRecords bounds the records of one Transport.Publish call.
const maxBatchRecords = 2000

func newSender(s *Service, tr Transport, sub Subscription, ctx context.Context) *sender {
	return &sender{s: s, tr: tr, sub: sub, ctx: ctx, log: s.log,
		queue: make(chan *item, s.cfg.MaxInFlight), done: make(chan struct{})}
}

// enqueue hands an item to the sender; it blocks while MaxInFlight items
// wait (back-pressure) and fails once the sender is closed or its deadline
// passed.
func (sn *sender) enqueue(it *item) error {
	sn.mu.RLock()
	defer sn.mu.RUnlock()
	if sn.closed {
		return ErrStopped
	}
	select {
	case sn.queue <- it:
		return nil
	case <-sn.ctx.Done():
		return ErrStopped
	}
}

// enqueueChunk hands a worker's items to the sender in order. An item with
// nothing to publish is left out when a later item of the chunk is of the
// same partition: offsets are committed cumulatively, so the later commit
// covers it. Most records publish nothing (skipped, or handled quietly),
// so most of a chunk costs the sender nothing.
func (sn *sender) enqueueChunk(items []item) error {
	type partition struct {
		topic string
		id    int
	}
	var later []partition // partitions of the items after the current one
	keep := make([]bool, len(items))
	for i := len(items) - 1; i >= 0; i-- {
		p := partition{items[i].in.Topic, items[i].in.Partition}
		covered := slices.Contains(later, p)
		if !covered {
			later = append(later, p)
		}
		keep[i] = len(items[i].out) > 0 || !covered
	}
	for i := range items {
		if !keep[i] {
			continue
		}
		// A copy, so the sender holds this item and record only, not the
		// chunk (its decoded events and every other record of it).
		cp, rec := items[i], *items[i].in
		cp.in = &rec
		if err := sn.enqueue(&cp); err != nil {
			return err
		}
	}
	return nil
}

// publish sends records as one item and waits for their acknowledgement.
func (sn *sender) publish(ctx context.Context, recs []Record) error {
	it := &item{out: recs, done: make(chan error, 1)}
	if err := sn.enqueue(it); err != nil {
		return err
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops accepting items and returns once every queued item is
// published and committed, or the deadline passed.
func (sn *sender) close() {
	sn.closeOnce.Do(func() {
		sn.mu.Lock()
		sn.closed = true
		close(sn.queue)
		sn.mu.Unlock()
	})
	<-sn.done
}

func (sn *sender) run() {
	defer close(sn.done)
	batch := make([]*item, 0, 64)
	records := make([]Record, 0, 256)
	for {
		first, ok := <-sn.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		records = append(records[:0], first.out...)
	fill:
		for len(records) < maxBatchRecords {
			select {
			case it, ok := <-sn.queue:
				if !ok {
					break fill
				}
				batch = append(batch, it)
				records = append(records, it.out...)
			default:
				break fill
			}
		}
		if !sn.flush(batch, records) {
			sn.fail(batch, ErrStopped)
			for it := range sn.queue { // deadline passed: nothing more is sent
				sn.fail([]*item{it}, ErrStopped)
			}
			return
		}
	}
}

// flush publishes one batch until it is acknowledged, then commits its
// consumed records. It returns false when the deadline passed first.
func (sn *sender) flush(batch []*item, records []Record) bool {
	if len(records) > 0 {
		if !sn.publishAll(batch, records) {
			return false
		}
	}
	ins := sn.ins[:0]
	for _, it := range batch {
		if it.in != nil {
			ins = append(ins, *it.in)
		}
	}
	sn.ins = ins
	if slices.ContainsFunc(batch, func(it *item) bool { return it.handled }) {
		// Stamp before committing: whoever sees the commit sees the stamp.
		sn.s.tel.lastProcessed.Store(sn.s.clock.Now().UnixNano())
	}
	if len(ins) > 0 && sn.sub != nil {
		sn.s.progress.advance(ins)
		if err := sn.sub.Commit(sn.ctx, ins...); err != nil {
			// Offsets are cumulative: the next commit covers these.
			sn.log.Warn("commit failed", "error", err, "records", len(ins))
		}
		clear(ins) // keep no record's bytes until the next flush
	}
	for _, it := range batch {
		if it.done != nil {
			it.done <- it.err
		}
	}
	return true
}

// publishAll sends records, retrying transient failures with backoff. A
// record the broker can never take (too large, say) is not retried: its
// item's consumed record is dead-lettered instead, or its waiter told.
func (sn *sender) publishAll(batch []*item, records []Record) bool {
	wait := 50 * time.Millisecond
	for {
		err := sn.tr.Publish(sn.ctx, records...)
		if err == nil {
			sn.failing.Store(nil)
			sn.countOut(batch)
			return true
		}
		if sn.ctx.Err() != nil {
			return false
		}
		sn.s.tel.pubErrs.Add(context.Background(), 1)
		if !isPermanentPublish(err) {
			sn.noteFailure(err)
		}
		if isPermanentPublish(err) {
			return sn.publishEach(batch)
		}
		sn.log.Warn("publish failed, retrying", "error", err, "records", len(records), "wait", wait)
		if (SystemClock{}).Sleep(sn.ctx, wait) != nil {
			return false
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// publishEach sends the batch item by item after a permanent failure, so
// one bad record does not hold the others.
func (sn *sender) publishEach(batch []*item) bool {
	for _, it := range batch {
		if len(it.out) == 0 {
			continue
		}
		for {
			err := sn.tr.Publish(sn.ctx, it.out...)
			if err == nil {
				sn.countOut([]*item{it})
				break
			}
			if sn.ctx.Err() != nil {
				return false
			}
			if !isPermanentPublish(err) {
				if (SystemClock{}).Sleep(sn.ctx, 200*time.Millisecond) != nil {
					return false
				}
				continue
			}
			sn.log.Error("publish refused by the broker", "error", err, "records", len(it.out))
			it.err = err
			if it.in != nil && !it.dead && onlyDeadLetters(it.out) {
				it.dead = true // keep the letters' own classes; fit them below
			}
			if it.in != nil && !it.dead {
				dl := sn.s.deadLetterRecord(it.in, "", ClassPermanent, err, 0)
				it.out, it.dead = []Record{dl}, true
				it.counts = []deadCount{{typeOf(it.in), "", ClassPermanent}}
				continue
			}
			if it.dead && !it.minimal { // the broker's limit is below the producer's
				for i := range it.out {
					it.out[i] = MinimalDeadLetter(it.out[i])
				}
				it.minimal = true
				continue
			}
			if it.dead && it.in != nil {
				sn.s.tel.deadFailed.Add(context.Background(), int64(max(len(it.counts), 1)))
				it.counts = nil
				sn.log.Error("dead letter refused by the broker: the record is committed without one",
					"error", err, "topic", it.in.Topic, "partition", it.in.Partition, "offset", it.in.Offset)
			}
			break
		}
	}
	return true
}

func (sn *sender) countOut(batch []*item) {
	for _, it := range batch {
		for _, c := range it.counts {
			sn.s.countDead(c.typ, c.river, c.class)
		}
		it.counts = nil
		if it.dead {
			continue
		}
		for i := range it.out {
			r := &it.out[i]
			if isDLQ(r.Topic) {
				continue
			}
			sn.s.tel.published(typeOf(r), r.Topic)
		}
	}
}

func onlyDeadLetters(rs []Record) bool {
	for i := range rs {
		if !isDLQ(rs[i].Topic) {
			return false
		}
	}
	return len(rs) > 0
}

func (sn *sender) fail(batch []*item, err error) {
	for _, it := range batch {
		if it.done != nil {
			it.done <- err
		}
	}
}

func typeOf(r *Record) string {
	v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType)
	return string(v)
}

func isDLQ(topic string) bool { return len(topic) > 4 && topic[len(topic)-4:] == ".dlq" }

// isPermanentPublish reports a publish failure no retry fixes: a
// Transport marks those with Permanent.
func isPermanentPublish(err error) bool { return IsPermanent(err) && !errors.Is(err, ErrStopped) }
