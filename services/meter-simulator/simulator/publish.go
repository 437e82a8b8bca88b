package simulator

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/rivers"
)

// laneQueue is how many batches may wait for each lane's publisher.
const laneQueue = 2

// lanes publishes one timer run's records: encoded in batches of
// Config.BatchSize, routed to publishLanes goroutines by meter id (one
// meter's reads stay in order), at most laneQueue batches queued per
// lane, so a slow broker slows generation instead of filling memory.
// Records are self-contained (the encoder copies what it needs), so the
// generator may move on while they are in flight.
type lanes struct {
	s    *Simulator
	ctx  context.Context
	sink PublishFunc
	enc  *encoder
	size int
	seq  uint64

	in      []chan batch
	open    []batch // per lane, being filled
	workers sync.WaitGroup
	pending sync.WaitGroup // batches queued and not answered yet

	mu       sync.Mutex
	err      error   // the first publish error
	retained []batch // not acknowledged: failed, or skipped after a failure
}

// batch is records of one lane, in the order they were made (seq), how
// many of each item kind they hold, and the read time of the interval of
// their first record.
type batch struct {
	lane  int
	seq   uint64
	first time.Time
	recs  []rivers.Record
	kinds [3]int64
}

var laneSeed = maphash.MakeSeed()

func (s *Simulator) startLanes(ctx context.Context, sink PublishFunc) *lanes {
	l := &lanes{s: s, ctx: ctx, sink: sink, size: s.cfg.BatchSize,
		enc: newEncoder(s.svc.Config().Kafka.Topics.Rapids, s.cfg.ReadingTTL),
		in:  make([]chan batch, publishLanes), open: make([]batch, publishLanes)}
	for i := range l.in {
		l.in[i] = make(chan batch, laneQueue)
		l.workers.Add(1)
		go l.work(l.in[i])
	}
	return l
}

func (l *lanes) work(in <-chan batch) {
	defer l.workers.Done()
	for b := range in {
		l.publish(b)
		l.pending.Done()
	}
}

// publish sends one batch, or keeps it to be sent again.
func (l *lanes) publish(b batch) {
	if l.failed() != nil || l.ctx.Err() != nil {
		l.retain(b, nil)
		return
	}
	if err := l.sink(l.ctx, b.recs...); err != nil {
		l.retain(b, err)
		return
	}
	l.s.published.Add(uint64(len(b.recs)))
	for k, n := range b.kinds {
		if n > 0 {
			l.s.readings.Add(l.ctx, n, metric.WithAttributes(attrKind([...]string{"reading", "duplicate", "malformed"}[k])))
		}
	}
}

// retain keeps b to be sent again, and err as the run's error.
func (l *lanes) retain(b batch, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && err != nil {
		l.err = err
	}
	l.retained = append(l.retained, b)
}

func (l *lanes) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// upload encodes the items of an upload of the interval read at readAt
// into the lanes' batches, sending each batch that fills up.
func (l *lanes) upload(readAt time.Time, up *Upload) {
	now := time.Now()
	for _, it := range up.Items {
		i := int(maphash.String(laneSeed, it.Reading.MeterID) % publishLanes)
		b := &l.open[i]
		if len(b.recs) == 0 {
			l.seq++
			b.lane, b.seq, b.first = i, l.seq, readAt
		}
		b.recs = append(b.recs, l.enc.record(it, up.Due, now))
		b.kinds[it.Kind]++
		if len(b.recs) >= l.size {
			l.send(i)
		}
	}
}

// resend queues a batch a failed run left behind, before anything new.
func (l *lanes) resend(b batch) {
	l.seq++
	b.seq = l.seq
	l.queue(b)
}

func (l *lanes) send(i int) {
	b := l.open[i]
	l.open[i] = batch{recs: make([]rivers.Record, 0, l.size)}
	if len(b.recs) > 0 {
		l.queue(b)
	}
}

func (l *lanes) queue(b batch) {
	l.pending.Add(1)
	select {
	case l.in[b.lane] <- b:
	case <-l.ctx.Done():
		l.pending.Done()
		l.retain(b, nil)
	}
}

// barrier sends the partly filled batches and waits until every batch
// queued so far is answered: what was handed to the lanes before it is
// published before anything handed after it. Paced runs call it between
// intervals, so the lanes never publish one interval's reads ahead of the
// previous one's (a partition's event time stays in upload order, as a
// head-end sends it).
func (l *lanes) barrier() {
	for i := range l.open {
		l.send(i)
	}
	l.pending.Wait()
}

// close sends the partly filled batches, waits until every batch is
// answered, and returns the batches to send again, in the order they were
// made, and the first error.
func (l *lanes) close() ([]batch, error) {
	for i := range l.open {
		l.send(i)
	}
	for _, c := range l.in {
		close(c)
	}
	l.workers.Wait()
	slices.SortFunc(l.retained, func(a, b batch) int { return int(a.seq) - int(b.seq) })
	err := l.err
	if err == nil && len(l.retained) > 0 {
		err = l.ctx.Err()
	}
	return l.retained, err
}
