package archiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"gocloud.dev/blob"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/ponds/archive"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// errRebalanced: the consumer group's generation changed.
var errRebalanced = errors.New("the consumer group rebalanced")

// Archiver moves one topic into the pond: it consumes the topic with a
// rapids consumer of its own (group: the service's KAFKA_GROUP), adds each
// record to an archive.Archiver, flushes files by size and age, and commits
// to Kafka only the offsets archive.Archiver.Watermarks reports durable.
// Invalid records are dead-lettered to "<topic>.dlq" before their offsets
// are committed.
//
// It is driven by a timer of the service (see [Register]): each run
// consumes for at most Config.Slice. When the runs stop (the service
// stopped) for Config.LeaseTimeout, it writes what it holds, commits and
// leaves the group; the next run starts over from the committed offsets.
type Archiver struct {
	cfg    Config
	svc    *rivers.Service
	kafka  rapids.Config
	topic  string
	group  string
	start  rapids.StartOffset
	bucket *blob.Bucket
	log    *slog.Logger

	lease atomic.Int64 // unix ns of the last timer run

	mu        sync.Mutex // one run or the watchdog at a time
	ar        *archive.Archiver
	cons      *rapids.Consumer
	prod      *rapids.Producer
	assigned  int                    // partitions of the consumer's generation when last seen
	parts     map[partition]struct{} // partitions the archiver holds state for
	committed map[partition]int64    // next offset committed per partition
	high      map[int]int64          // highest next offset ever committed, per partition (Committed)
	watching  bool

	records, deadLetters, lettersFailed, commits metric.Int64Counter
}

type partition struct {
	topic string
	part  int
}

// Register adds an archiver of cfg to svc: a timer "archive" that drives
// it and a readiness check "pond". The service declares no river: the
// archiver reads with its own consumer so that it commits only what is
// durable in the pond, which a river handler (committed on return) cannot.
func Register(svc *rivers.Service, cfg Config) error {
	_, err := New(svc, cfg)
	return err
}

// New is Register returning the Archiver, for tests and tools.
func New(svc *rivers.Service, cfg Config) (*Archiver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rc := svc.Config()
	if to := rc.HandlerTimeout; to > 0 && cfg.Slice >= to {
		cfg.Slice = to / 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bucket, err := archive.OpenBucket(ctx, cfg.PondsURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, EnvPondsURL, err)
	}
	a := &Archiver{
		cfg: cfg, svc: svc, kafka: rc.Kafka, topic: resolveTopic(rc, cfg.Topic), group: cfg.Group,
		bucket: bucket, log: svc.Logger().With("component", "archiver"),
		parts: map[partition]struct{}{}, committed: map[partition]int64{}, high: map[int]int64{},
	}
	if a.group == "" {
		a.group = rc.Group + GroupSuffix
	}
	if a.group == rc.Group {
		return nil, fmt.Errorf("%w: %s %q is the service's own consumer group: choose another", ErrConfig, EnvGroup, a.group)
	}
	if rc.StartOffset == "latest" {
		a.start = rapids.Latest
	}
	if a.ar, err = a.newArchive(); err != nil {
		return nil, err
	}
	m := svc.Meter()
	for _, c := range []struct {
		dst        *metric.Int64Counter
		name, desc string
	}{
		{&a.records, "archiver_records_total", "records consumed, by result (archived, dead_lettered)"},
		{&a.deadLetters, "archiver_dead_letters_total", "records dead-lettered (letter acknowledged), by class"},
		{&a.lettersFailed, "archiver_dead_letters_failed_total", "invalid records committed without a letter: the broker refused even the minimal letter, by class"},
		{&a.commits, "archiver_commits_total", "offset commits of durable records"},
	} {
		if *c.dst, err = m.Int64Counter(c.name, metric.WithDescription(c.desc)); err != nil {
			return nil, err
		}
	}
	svc.Every(cfg.PollInterval, "archive", a.run)
	svc.CheckReady("pond", a.ready)
	return a, nil
}

func resolveTopic(rc rivers.Config, t rivers.Topic) string {
	switch t {
	case rivers.Rapids:
		return rc.Kafka.Topics.Rapids
	case rivers.Rivers:
		return rc.Kafka.Topics.Rivers
	}
	return string(t)
}

func (a *Archiver) newArchive() (*archive.Archiver, error) {
	ar, err := archive.NewArchiver(a.bucket, &archive.Options{
		MaxRows: a.cfg.FlushRows, MaxBytes: a.cfg.FlushBytes, MaxAge: a.cfg.FlushAge,
		Compression: a.cfg.Compression, Logger: a.log,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return ar, nil
}

// Topic returns the Kafka topic archived.
func (a *Archiver) Topic() string { return a.topic }

// ready checks that the pond's bucket answers and, once consuming started,
// that the group assigned partitions.
func (a *Archiver) ready(ctx context.Context) error {
	ok, err := a.bucket.IsAccessible(ctx)
	if err != nil {
		return fmt.Errorf("pond %s: %w", archiveURL(a.cfg.PondsURL), err)
	}
	if !ok {
		return fmt.Errorf("pond %s is not accessible", archiveURL(a.cfg.PondsURL))
	}
	a.mu.Lock()
	c := a.cons
	a.mu.Unlock()
	if c == nil {
		return errors.New("not consuming yet")
	}
	if !c.Assigned() {
		return fmt.Errorf("waiting for group %s to assign partitions of %s", a.group, a.topic)
	}
	return nil
}

// archiveURL strips the query (credentials may hide there) and the
// password of the user information, for messages.
func archiveURL(u string) string {
	u = archive.RedactURL(u)
	for i := range len(u) {
		if u[i] == '?' {
			return u[:i]
		}
	}
	return u
}

// run is the service timer: one slice of consuming.
func (a *Archiver) run(ctx context.Context, _ time.Time, _ rivers.Publisher) error {
	a.lease.Store(time.Now().UnixNano())
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.open(); err != nil {
		return rivers.Permanent(err)
	}
	end := time.Now().Add(a.cfg.Slice)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-time.Second).Before(end) {
		end = dl.Add(-time.Second)
	}
	next := time.Now().Add(time.Second) // the next FlushDue and commit
	for n := 0; ctx.Err() == nil; n++ {
		stop := next
		if end.Before(stop) {
			stop = end
		}
		fctx, cancel := context.WithDeadline(ctx, stop)
		rec, err := a.cons.Fetch(fctx)
		cancel()
		if err == nil {
			if err := a.add(ctx, rec); err != nil {
				a.log.Error("archiving failed: starting over from the committed offsets", "error", err)
				a.reset(ctx)
				return nil
			}
		} else if fctx.Err() == nil {
			a.log.Warn("fetch failed: starting over from the committed offsets", "error", err)
			a.reset(ctx)
			return nil
		}
		if now := time.Now(); err != nil || n%1000 == 999 || !now.Before(next) {
			a.flushDue(ctx)
			next = now.Add(time.Second)
			if !now.Before(end) {
				return nil
			}
		}
	}
	return nil
}

// open starts the consumer, the dead-letter producer and the watchdog.
func (a *Archiver) open() error {
	if a.cons != nil {
		return nil
	}
	c, err := rapids.NewConsumer(a.kafka, a.group, []string{a.topic}, rapids.WithStartOffset(a.start))
	if err != nil {
		return fmt.Errorf("archiver: consumer for %s: %w", a.topic, err)
	}
	p, err := rapids.NewProducer(a.kafka)
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("archiver: dead-letter producer: %w", err)
	}
	a.cons, a.prod, a.assigned = c, p, 0
	if !a.watching {
		a.watching = true
		go a.watch()
	}
	a.log.Info("archiving", "topic", a.topic, "group", a.group, "pond", archiveURL(a.cfg.PondsURL))
	return nil
}

// add archives one record, dead-lettering it when it is invalid. An error
// means the record is not archived and the consumer must start over.
func (a *Archiver) add(ctx context.Context, rec rapids.Record) error {
	if n := a.cons.AssignedPartitions(); n != a.assigned {
		if a.assigned != 0 {
			// A new group generation: some partitions may belong to another
			// member now. Start over from the committed offsets, dropping
			// what is buffered (uncommitted: its owner reads it again).
			return fmt.Errorf("%w: %d partitions, then %d", errRebalanced, a.assigned, n)
		}
		a.assigned = n
	}
	pk := partition{rec.Topic, rec.Partition}
	pos := archive.Position{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Time: rec.Time}
	msg := rec.Message()
	var err error
	for attempt := 1; ; attempt++ {
		err = a.ar.AddMessage(ctx, pos, msg)
		if errors.Is(err, archive.ErrOutOfOrder) { // redelivered from the committed offset
			a.ar.Forget(rec.Topic, rec.Partition)
			err = a.ar.AddMessage(ctx, pos, msg)
		}
		if err == nil || errors.Is(err, archive.ErrInvalidEvent) || attempt == 3 || ctx.Err() != nil {
			break
		}
		a.log.Warn("archive add failed, retrying", "error", err, "attempt", attempt)
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	a.parts[pk] = struct{}{}
	if err == nil {
		a.records.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "archived")))
		return nil
	}
	var inv *archive.InvalidEventError
	if !errors.As(err, &inv) {
		return err
	}
	class := rivers.ClassSchema
	if _, derr := contracts.DecodeBinary(msg); derr != nil {
		class = rivers.ClassMalformed
	}
	derr := a.deadLetter(ctx, rec, class, inv.Reason)
	if errors.Is(derr, errNoLetter) {
		a.records.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "dead_letter_failed")))
		return nil
	}
	if derr != nil {
		// Not dead-lettered: the partition must not be committed past it.
		a.ar.Forget(rec.Topic, rec.Partition)
		delete(a.parts, pk)
		return fmt.Errorf("dead-letter %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, derr)
	}
	a.records.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "dead_lettered")))
	a.deadLetters.Add(ctx, 1, metric.WithAttributes(attribute.String("class", class)))
	a.log.Warn("event dead-lettered", "class", class, "error", inv.Reason,
		"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
	return nil
}

// deadLetter publishes rec to "<topic>.dlq" with the SDK's dlq_* headers
// and waits for the broker's acknowledgement. A letter too large for the
// producer leaves the value out (see rivers.FitDeadLetter); one the broker
// still refuses is sent in its minimal form. When even that is refused the
// record is committed without a letter, logged and counted
// (archiver_dead_letters_failed_total): one record never stalls the
// archive. Only a transient failure (the broker is away) returns an error.
func (a *Archiver) deadLetter(ctx context.Context, rec rapids.Record, class string, cause error) error {
	rc := a.svc.Config()
	out := rivers.NewDeadLetter(rivers.Record{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Key: rec.Key, Value: rec.Value, Headers: rec.Headers, Time: rec.Time}, rivers.DeadLetterInfo{
		Group: a.group, Service: rc.Name, Instance: rc.Instance, Class: class, Err: cause,
		MaxBytes: a.kafka.BatchBytes,
	})
	err := a.publishLetter(ctx, out)
	if rapids.IsPermanent(err) {
		a.log.Warn("dead letter refused by the broker: sending it without payload", "error", err,
			"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
		err = a.publishLetter(ctx, rivers.MinimalDeadLetter(out))
	}
	if rapids.IsPermanent(err) {
		a.log.Error("dead letter refused by the broker: the record is committed without one", "error", err,
			"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
		a.lettersFailed.Add(ctx, 1, metric.WithAttributes(attribute.String("class", class)))
		return errNoLetter
	}
	return err
}

// errNoLetter: the broker refused every form of a dead letter.
var errNoLetter = errors.New("dead letter refused")

func (a *Archiver) publishLetter(ctx context.Context, r rivers.Record) error {
	out := rapids.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = a.prod.Publish(pctx, out)
		cancel()
		if err == nil || rapids.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	return err
}

// flushDue writes the files that are due and commits what is durable.
func (a *Archiver) flushDue(ctx context.Context) {
	if err := a.ar.FlushDue(ctx); err != nil {
		a.log.Warn("flush failed; the rows stay buffered and uncommitted", "error", err)
	}
	a.commit(ctx)
}

// commit commits each partition's watermark: every record below it is in
// a durable object, was archived before, or was dead-lettered.
func (a *Archiver) commit(ctx context.Context) {
	var recs []rapids.Record
	for _, w := range a.ar.Watermarks() {
		pk := partition{w.Topic, w.Partition}
		if c, ok := a.committed[pk]; ok && w.Next <= c {
			continue
		}
		recs = append(recs, rapids.Record{Topic: w.Topic, Partition: w.Partition, Offset: w.Next - 1})
		a.committed[pk] = w.Next
	}
	if len(recs) == 0 || a.cons == nil {
		return
	}
	if err := a.cons.Commit(ctx, recs...); err != nil {
		a.log.Warn("commit failed; the records will be read again and skipped as archived", "error", err)
		clear(a.committed)
		return
	}
	for _, r := range recs {
		a.high[r.Partition] = max(a.high[r.Partition], r.Offset+1)
	}
	a.commits.Add(ctx, int64(len(recs)))
}

// Committed returns, per partition of the topic, the highest offset this
// Archiver committed: every record below it is in the pond (or was
// dead-lettered).
func (a *Archiver) Committed() map[int]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.high)
}

func (a *Archiver) forgetAll() {
	for pk := range a.parts {
		a.ar.Forget(pk.topic, pk.part)
	}
	clear(a.parts)
	clear(a.committed)
}

// reset commits what is durable, drops everything else and closes the
// consumer: the next run reads again from the committed offsets.
func (a *Archiver) reset(ctx context.Context) {
	a.commit(ctx)
	a.forgetAll()
	a.closeClients()
}

func (a *Archiver) closeClients() {
	if a.cons != nil {
		if err := a.cons.Close(); err != nil {
			a.log.Warn("leaving the consumer group", "error", err)
		}
		a.cons = nil
	}
	if a.prod != nil {
		_ = a.prod.Close()
		a.prod = nil
	}
}

// watch shuts the archiver down once the timer runs stop.
func (a *Archiver) watch() {
	t := time.NewTicker(a.cfg.LeaseTimeout / 4)
	defer t.Stop()
	for range t.C {
		if time.Since(time.Unix(0, a.lease.Load())) <= a.cfg.LeaseTimeout {
			continue
		}
		a.mu.Lock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		a.shutdown(ctx)
		cancel()
		a.watching = false
		a.mu.Unlock()
		return
	}
}

// Close writes every buffered file, commits, and leaves the consumer
// group. A later timer run starts consuming again.
func (a *Archiver) Close(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.shutdown(ctx)
}

func (a *Archiver) shutdown(ctx context.Context) error {
	if a.cons == nil {
		return nil
	}
	err := a.ar.Flush(ctx)
	if err != nil {
		a.log.Warn("final flush failed; the rows will be read again", "error", err)
	}
	a.commit(ctx)
	a.forgetAll()
	a.closeClients()
	a.log.Info("archiver stopped", "topic", a.topic)
	return err
}
