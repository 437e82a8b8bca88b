package rivers

import (
	"context"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// Record is one record of a topic: what a [Transport] delivers and accepts.
// Key, Value and Headers are a Kafka binary-mode CloudEvent.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []contracts.Header
	Time      time.Time // the record's timestamp; zero on records to publish
	// HighWaterMark is, on a fetched record, its partition's end offset as
	// the fetch saw it; zero when the transport does not know it.
	HighWaterMark int64
}

// Behind returns how many records of its partition followed a fetched
// record when it was fetched (0 when unknown or at the end).
func (r Record) Behind() int64 {
	if r.HighWaterMark <= r.Offset {
		return 0
	}
	return r.HighWaterMark - r.Offset - 1
}

// Message returns the record's key, value and headers.
func (r Record) Message() contracts.Message {
	return contracts.Message{Key: r.Key, Value: r.Value, Headers: r.Headers}
}

// Transport connects a [Service] to topics: Kafka through the rapids
// package ([NewKafkaTransport]), or memory in the riverstest package. The
// same Service runs unchanged over either.
//
// Implementations are safe for concurrent use, and pass
// riverstest.RunTransportSuite, which checks this contract.
type Transport interface {
	// Publish appends records to their topics and returns once every one is
	// stored durably (acknowledged by the broker). Records with the same topic
	// and key keep the order of the call. On error any subset may have been
	// stored: the caller publishes the whole call again (at-least-once), so
	// Publish must be safe to repeat. Publish honours ctx cancellation.
	Publish(ctx context.Context, records ...Record) error

	// Subscribe joins consumer group on topics and returns the membership.
	// Records of one partition are delivered in offset order; a record that
	// is not committed before the membership ends is delivered again, to this
	// or another member of the group.
	Subscribe(ctx context.Context, group string, topics []string) (Subscription, error)

	// Close flushes anything buffered and releases the transport. Publish
	// and Subscribe fail after Close; calling Close again returns nil.
	Close() error
}

// Subscription is one membership of a consumer group, made by
// [Transport.Subscribe]. Fetch and Commit may be called from different
// goroutines.
//
// A Subscription may also implement the optional interfaces below
// ([LagReporter], [ReadinessChecker], [EndOffsetReporter],
// [AssignmentReporter]); the Kafka transport implements all four, and a
// transport without them still works, with less said in heartbeats,
// /readyz and event-time judgements.
type Subscription interface {
	// Fetch blocks until the next record arrives or ctx is done, and then
	// returns ctx.Err().
	Fetch(ctx context.Context) (Record, error)

	// Commit marks records, and everything before them in their partitions,
	// as processed. Committing an offset lower than one already committed has
	// no effect.
	Commit(ctx context.Context, records ...Record) error

	// Close leaves the group. Uncommitted records are delivered again to the
	// member that takes over their partitions. Fetch and Commit fail after
	// Close (a commit then moves nothing); calling Close again returns nil.
	Close() error
}

// LagReporter is a Subscription that knows how many records it is behind
// the end of its assigned partitions: heartbeats (lag_records) and the
// watershed_consumer_lag metric report it.
type LagReporter interface{ Lag() int64 }

// ReadinessChecker is a Subscription that can tell whether it is ready
// (partitions assigned, broker reachable): /readyz reports it.
type ReadinessChecker interface{ Ready(context.Context) error }

// EndOffsetReporter is a Subscription that can ask the broker for the end offset
// (the offset the next record will get) of the partitions it has read
// from: with it, [Service.AtEnd] knows whether the service has read
// everything there is.
type EndOffsetReporter interface {
	EndOffsets(context.Context) (map[TopicPartition]int64, error)
}

// AssignmentReporter is a Subscription that knows which partitions its
// consumer group gave it, and the offset each started at (negative:
// unknown): [Service.Assigned] reports them.
type AssignmentReporter interface {
	Assignment() map[TopicPartition]int64
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int
}
