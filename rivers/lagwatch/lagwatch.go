package lagwatch

import (
	"context"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/eventtime"
)

// Config tunes a [Watch]. Zero fields take their defaults.
type Config struct {
	// Tolerance: how long (wall clock) a partition may have records behind
	// its last read one before the monitor is lagging. Default 2s.
	Tolerance time.Duration
	// Settle: how long no partition may have lagged before the monitor is
	// caught up again and judges. Default 5s.
	Settle time.Duration
	// Every: how often the state is evaluated and a change published.
	// Default 1s.
	Every time.Duration
	// River names the passive "*" river [Register] adds. Default "lag".
	River string
}

func (c Config) withDefaults() Config {
	if c.Tolerance <= 0 {
		c.Tolerance = eventtime.DefaultTolerance
	}
	if c.Settle <= 0 {
		c.Settle = eventtime.DefaultSettle
	}
	if c.Every <= 0 {
		c.Every = time.Second
	}
	if c.River == "" {
		c.River = "lag"
	}
	return c
}

// Watch is one monitor's read progress and lag state. Its methods are safe
// for concurrent use.
type Watch struct {
	cfg                   Config
	name, instance, topic string

	// unread asks the SDK how many records of a partition of the topic the
	// service has not done, per its latest end-offset check.
	unread  func(partition int) (int64, bool)
	checked func() bool

	mu        sync.Mutex
	p         *eventtime.Progress
	announced bool      // a lagging event was published, not yet recovered
	since     time.Time // when the current lag was found
	withheld  int
}

// New returns a watch for svc and registers its timer (every cfg.Every),
// which publishes system.monitor.lagging.v1 on each change of state; it
// adds no river: feed it with [Watch.Observe] from a river of "*", or use
// [Register].
func New(svc *rivers.Service, cfg Config) *Watch {
	cfg = cfg.withDefaults()
	c := svc.Config()
	w := &Watch{cfg: cfg, name: c.Name, instance: c.Instance, topic: c.Kafka.Topics.Rivers,
		p: eventtime.NewProgress(cfg.Tolerance, cfg.Settle)}
	w.unread = func(p int) (int64, bool) { return svc.Unread(w.topic, p) }
	w.checked = svc.EndsChecked
	svc.Publishes(events.TypeMonitorLagging)
	svc.Every(cfg.Every, cfg.River+".state", w.tick)
	return w
}

// Register is New plus a passive river of every type on the rivers, named
// cfg.River, that reads no payload key and feeds the watch a batch at a
// time.
func Register(svc *rivers.Service, cfg Config) *Watch {
	w := New(svc, cfg)
	rivers.HandleBatch(svc, rivers.NewRiver("*").Named(w.cfg.River).Passive(), func(ctx context.Context, b *rivers.Batch[struct{}]) error {
		now := rivers.Now(ctx)
		w.mu.Lock()
		defer w.mu.Unlock()
		for i := range b.Len() {
			d := b.Delivery(i)
			w.p.Observe(d.Partition, d.RecordTime, d.Behind, now)
		}
		return nil
	})
	return w
}

// Observe records the delivery ctx belongs to (its partition, what was
// behind it and its record time), at the service clock's time. Outside a
// delivery it does nothing.
func (w *Watch) Observe(ctx context.Context) {
	d, ok := rivers.DeliveryFrom(ctx)
	if !ok || d.Timer != "" {
		return
	}
	w.ObserveRecord(d.Partition, d.RecordTime, d.Behind, rivers.Now(ctx))
}

// ObserveRecord records a record of partition p stamped recordTime that had
// behind records after it when it was fetched, read at wall time now: for
// handlers that get records rather than a delivery context.
func (w *Watch) ObserveRecord(p int, recordTime time.Time, behind int64, now time.Time) {
	w.mu.Lock()
	w.p.Observe(p, recordTime, behind, now)
	w.mu.Unlock()
}

// Position returns the monitor's position in the stream: everything
// published before it has been read (see [eventtime.Progress.Position]).
// Zero before the first record.
func (w *Watch) Position() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.p.Position()
}

// Seen observes the delivery ctx belongs to and returns the time to record
// a heartbeat (or any sign of life) at: the monitor's position with it, or
// the delivery's own record time when that is later. Ages measured between two positions are measured on the stream's
// clock, so neither the monitor's lag nor a producer's skewed clock changes
// them. Outside a delivery, or without record times, it returns the
// position, else the service clock's time.
func (w *Watch) Seen(ctx context.Context) time.Time {
	w.Observe(ctx)
	p := w.Position()
	if p.IsZero() {
		return rivers.Now(ctx)
	}
	// The record itself says when it was appended: a heartbeat read while
	// another partition still had a backlog (the position is held back by
	// it) was alive at its own record time, not only at the position. Taking
	// the position alone ages it by the other partition's backlog, and a
	// live instance was declared down once that backlog was read (the proof
	// of issue #12, restart run, on a loaded machine).
	if d, ok := rivers.DeliveryFrom(ctx); ok && d.Timer == "" && d.RecordTime.After(p) {
		return d.RecordTime
	}
	return p
}

// Judge returns the time a monitor judges ages against (its position; now
// when the transport gives no record times) and whether it may conclude at
// now: it has read records, and no partition is lagging or has been for the
// settle time. When ok is false the monitor withholds verdicts that depend
// on what it has not read.
//
// at is the time through which the monitor has read everything the broker
// held (see [eventtime.Progress.ReadThrough]): a partition whose latest
// records it has not fetched yet holds it back, however quiet the rest.
func (w *Watch) Judge(now time.Time) (at time.Time, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refresh(now)
	at, ok = w.p.ReadThrough(), w.p.CaughtUp(now)
	if at.IsZero() {
		at = now
	}
	return at, ok
}

// Withhold counts n verdicts withheld while behind; the next lagging or
// recovered event reports the count of the episode.
func (w *Watch) Withhold(n int) {
	w.mu.Lock()
	w.withheld += n
	w.mu.Unlock()
}

// Lagging reports whether the watch has announced a lag not yet recovered.
func (w *Watch) Lagging() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.announced
}

// Update evaluates the state at now and returns the event to publish when
// it changed (lagging found, or recovered), and whether it did. The
// watch's timer calls it; a caller that publishes the event itself and
// fails calls Undo.
func (w *Watch) Update(now time.Time) (events.MonitorLagging, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refresh(now)
	return w.state(now)
}

// refresh gives the progress the SDK's latest end-offset check of every
// partition it has seen. Called with w.mu held.
func (w *Watch) refresh(now time.Time) {
	if w.unread == nil {
		return
	}
	for _, p := range w.p.Partitions() {
		switch n, known := w.unread(p); {
		case known:
			w.p.SetUnread(p, n, now)
		case w.checked != nil && w.checked():
			// The broker's answers are too old (a loaded machine, a slow
			// broker): the partition cannot be known read to its end, and
			// a verdict now could miss what it holds. Hold, as if one
			// record were unread; it clears with the next answer.
			w.p.SetUnread(p, 1, now)
		} // else the transport cannot tell: Behind alone tells
	}
}

// Undo reverts the change Update returned (its publication failed): the
// next Update finds it again.
func (w *Watch) Undo(ev events.MonitorLagging) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.announced = ev.State == events.MonitorLaggingStateRecovered
	if w.announced {
		w.since, w.withheld = ev.LaggingSince, ev.Withheld
	}
}

func (w *Watch) state(now time.Time) (events.MonitorLagging, bool) {
	var change bool
	state := events.MonitorLaggingStateLagging
	since := w.since
	switch {
	case !w.announced && w.p.Lagging(now):
		change, since = true, now
	case w.announced && w.p.CaughtUp(now):
		change, state = true, events.MonitorLaggingStateRecovered
	case w.announced:
	default:
		return events.MonitorLagging{}, false
	}
	pos := w.p.ReadThrough()
	ev := events.MonitorLagging{Monitor: w.name, Instance: w.instance, State: state, Topic: w.topic,
		BehindRecords: w.p.Records(), Position: pos.UTC(), LaggingSince: since.UTC(), Withheld: w.withheld,
		DetectedAt: now.UTC()}
	if !pos.IsZero() {
		ev.LagSeconds = max(now.Sub(pos).Seconds(), 0)
	}
	if state == events.MonitorLaggingStateRecovered {
		ev.BehindRecords = 0
	}
	if change {
		w.announced, w.since = state == events.MonitorLaggingStateLagging, since
		if !w.announced {
			w.withheld = 0
		}
	}
	return ev, change
}

func (w *Watch) tick(ctx context.Context, now time.Time, pub rivers.Publisher) error {
	ev, change := w.Update(now)
	if !change {
		return nil
	}
	rivers.Logger(ctx).Warn("monitor "+ev.State, "behind_records", ev.BehindRecords, "position", ev.Position,
		"lag_s", ev.LagSeconds, "withheld", ev.Withheld)
	if err := pub.Publish(ctx, events.TypeMonitorLagging, ev, rivers.WithKey(w.name)); err != nil {
		w.Undo(ev)
		return err
	}
	return nil
}
