package simulator

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/rivers"
	"go.opentelemetry.io/otel/metric"
)

// lanes publishes one timer run's records: encoded in batches of
// Config.BatchSize, routed to publishLanes goroutines by meter id (one
// meter's reads stay in order), at most one batch queued per lane, so a
// slow broker slows generation instead of filling memory.
type lanes struct {
	s    *Simulator
	ctx  context.Context
	sink PublishFunc
	enc  *encoder
	size int

	in      []chan batch
	open    []batch // per lane, being filled
	workers sync.WaitGroup
	flight  sync.WaitGroup // batches handed to a lane, not yet answered

	mu  sync.Mutex
	err error
}

// batch is records of one lane, how many of each item kind they hold and
// the intervals they belong to.
type batch struct {
	recs    []rivers.Record
	kinds   [3]int64
	flights []*flight
}

var laneSeed = maphash.MakeSeed()

func (s *Simulator) startLanes(ctx context.Context, sink PublishFunc) *lanes {
	l := &lanes{s: s, ctx: ctx, sink: sink, size: s.cfg.BatchSize,
		enc: newEncoder(s.svc.Config().Kafka.Topics.Rapids, s.cfg.ReadingTTL),
		in:  make([]chan batch, publishLanes), open: make([]batch, publishLanes)}
	for i := range l.in {
		l.in[i] = make(chan batch, 2)
		l.workers.Add(1)
		go l.work(l.in[i])
	}
	return l
}

func (l *lanes) work(in <-chan batch) {
	defer l.workers.Done()
	for b := range in {
		if l.failed() == nil && l.ctx.Err() == nil {
			if err := l.sink(l.ctx, b.recs...); err != nil {
				l.fail(err)
				l.mu.Lock()
				for _, f := range b.flights {
					if f.err == nil {
						f.err = err
					}
				}
				l.mu.Unlock()
			} else {
				l.s.published.Add(uint64(len(b.recs)))
				for k, n := range b.kinds {
					if n > 0 {
						l.s.readings.Add(l.ctx, n, metric.WithAttributes(attrKind([...]string{"reading", "duplicate", "malformed"}[k])))
					}
				}
			}
		}
		for _, f := range b.flights {
			f.acks.Done()
		}
		l.flight.Done()
	}
}

func (l *lanes) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

func (l *lanes) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// upload encodes an upload of interval f into the lanes' batches, sending
// each batch that fills up.
func (l *lanes) upload(f *flight, up *Upload) {
	now := time.Now()
	for _, it := range up.Items {
		i := maphash.String(laneSeed, it.Reading.MeterID) % publishLanes
		b := &l.open[i]
		b.recs = append(b.recs, l.enc.record(it, up.Due, now))
		b.kinds[it.Kind]++
		if n := len(b.flights); n == 0 || b.flights[n-1] != f {
			b.flights = append(b.flights, f)
			f.acks.Add(1)
		}
		if len(b.recs) >= l.size {
			l.send(int(i))
		}
	}
}

func (l *lanes) send(i int) {
	b := l.open[i]
	l.open[i] = batch{recs: make([]rivers.Record, 0, l.size)}
	if len(b.recs) == 0 {
		return
	}
	l.flight.Add(1)
	select {
	case l.in[i] <- b:
	case <-l.ctx.Done():
		for _, f := range b.flights {
			f.acks.Done()
		}
		l.flight.Done()
	}
}

// sync sends the partly filled batches and waits until every batch is
// answered; it returns the first error.
func (l *lanes) sync() error {
	for i := range l.open {
		l.send(i)
	}
	l.flight.Wait()
	if err := l.failed(); err != nil {
		return err
	}
	return l.ctx.Err()
}

// close stops the lanes after a last sync.
func (l *lanes) close() error {
	err := l.sync()
	for _, c := range l.in {
		close(c)
	}
	l.workers.Wait()
	return err
}

// settle waits until every record of interval f handed to the lanes is
// answered, sending the partly filled batches that hold some, and returns
// its first error.
func (l *lanes) settle(f *flight) error {
	for i := range l.open {
		if slices.Contains(l.open[i].flights, f) {
			l.send(i)
		}
	}
	f.acks.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	return l.ctx.Err()
}
