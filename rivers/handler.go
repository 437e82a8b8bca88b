package rivers

import (
	"context"
	"log/slog"
	"time"
)

// Handler processes one event of a river. It runs on the service's
// consuming goroutine, one event at a time, so events of one partition key
// are handled in order. Events published through pub are sent only when the
// handler returns nil, before the event's offset is committed; a failed
// attempt publishes nothing.
//
// Return nil when done; an error marked with [Permanent] (or a
// permanent sentinel such as [ErrUndeclaredKey]) to dead-letter the event
// at once; any other error to retry with capped backoff, then dead-letter.
// A panic is recovered and dead-lettered. ctx is cancelled when the service
// is forced to stop.
type Handler func(ctx context.Context, ev Event, pub Publisher) error

// TimerFunc runs on a timer (see [Service.Every] and [Service.After]) with
// the clock's time. Its publications are origin events (no cause), sent
// when it returns nil. It runs through the same middleware as handlers;
// middleware sees the zero Event and a [Delivery] naming the timer.
type TimerFunc func(ctx context.Context, now time.Time, pub Publisher) error

// Middleware wraps a handler: logging, metrics, retries, timeouts... It is
// called once per river or timer at registration, and the handler it returns
// once per delivery (and again per retry attempt, for middleware inside
// [Retry]).
type Middleware func(Handler) Handler

// Chain wraps h in mws; the first is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Delivery describes what triggered a handler.
type Delivery struct {
	Service   string // the service's name
	River     string // the river's name; empty for timers
	Timer     string // the timer's name; empty for rivers
	Type      string // the event type; empty for timers
	Topic     string
	Partition int
	Offset    int64
	Attempt   int // 1 on the first attempt, counted by [Retry]
	// RecordTime is the record's timestamp as the broker stored it (Kafka
	// CreateTime or LogAppendTime); zero for timers.
	RecordTime time.Time
	// Behind is how many records of the partition followed this one when it
	// was fetched: 0 means the service had read to the end of the partition.
	// Monitors use it to tell "nothing came" from "I have not read it yet".
	// Zero for timers and on transports that do not know the end offset.
	Behind int64
	// Replay is true for a record of a partition's history replayed to
	// rebuild the state of a partition the instance was just assigned
	// (see [PartitionState]): the handler updates its state as for any
	// record; what it publishes is discarded and nothing is committed.
	Replay bool
}

// DeliveryFrom returns the delivery ctx belongs to, if any.
func DeliveryFrom(ctx context.Context) (Delivery, bool) {
	d := deliveryOf(ctx)
	if d == nil {
		return Delivery{}, false
	}
	return d.Delivery, true
}

// Logger returns the service's logger with the delivery's river or timer,
// event type, id and offset, for handlers and middleware. Outside a
// delivery it returns slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	d := deliveryOf(ctx)
	if d == nil || d.log == nil {
		return slog.Default()
	}
	if d.logWith == nil {
		attrs := []any{}
		if d.River != "" {
			attrs = append(attrs, "river", d.River, "type", d.Type, "event_id", d.eventID,
				"topic", d.Topic, "partition", d.Partition, "offset", d.Offset)
		} else {
			attrs = append(attrs, "timer", d.Timer)
		}
		d.logWith = d.log.With(attrs...)
	}
	return d.logWith
}

// delivery is the mutable state of one delivery, shared by its middleware.
type delivery struct {
	Delivery
	eventID string
	clock   Clock
	out     *collector      // where publications of this delivery go
	drain   context.Context // done when the service starts to stop: no more retries
	metrics *riverMetrics   // the river's metric labels for this type; nil for timers
	log     *slog.Logger
	logWith *slog.Logger
}

type deliveryKey struct{}

func withDelivery(ctx context.Context, d *delivery) context.Context {
	return context.WithValue(ctx, deliveryKey{}, d)
}

func deliveryOf(ctx context.Context) *delivery {
	d, _ := ctx.Value(deliveryKey{}).(*delivery)
	return d
}

func clockOf(ctx context.Context) Clock {
	if d := deliveryOf(ctx); d != nil && d.clock != nil {
		return d.clock
	}
	return SystemClock{}
}
