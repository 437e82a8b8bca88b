package rapids

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/contracts"
)

// Record is one Kafka record: what Publish sends and Fetch returns.
//
// Topic is required to publish; Partition and Offset are set on fetched
// records (Publish chooses the partition from the key). Key, Value and
// Headers of a fetched record are owned by the caller.
type Record struct {
	Topic     string
	Partition int
	Offset    int64

	Key     []byte
	Value   []byte
	Headers []contracts.Header

	// Time is the record timestamp. Publish sets it to the current time when
	// it is zero, as every Kafka client does.
	Time time.Time

	// HighWaterMark is, on a fetched record, the end offset of its partition
	// as the fetch that returned it saw it (the offset the next record will
	// get): HighWaterMark-Offset-1 records were behind it then. Zero on
	// records to publish.
	HighWaterMark int64
}

// NewRecord returns the binary-mode record of e on topic: ce_* headers, the
// JSON data as value and e.PartitionKey as key (a null key when empty). It
// fails when e could not be decoded again (see contracts.EncodeBinary).
func NewRecord(topic string, e contracts.Event) (Record, error) {
	if topic == "" {
		return Record{}, fmt.Errorf("rapids: record of event %q: empty topic", e.ID)
	}
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		return Record{}, fmt.Errorf("rapids: record of event %q on %s: %w", e.ID, topic, err)
	}
	r := Record{Topic: topic, Key: m.Key, Value: m.Value, Headers: m.Headers}
	if len(r.Key) == 0 {
		r.Key = nil // no partition key: a null key, spread over the partitions
	}
	return r, nil
}

// Message returns the record as a contracts.Message, ready for
// contracts.DecodeBinary. It shares memory with r.
func (r Record) Message() contracts.Message {
	return contracts.Message{Key: r.Key, Value: r.Value, Headers: r.Headers}
}

// String identifies the record by its position, for logs and errors.
func (r Record) String() string {
	return fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)
}

// toKafka converts r for kafka-go's Writer. The Writer distributes records
// across partitions itself, so Partition and Offset are not carried.
func (r Record) toKafka(now time.Time) kafka.Message {
	t := r.Time
	if t.IsZero() {
		t = now
	}
	return kafka.Message{
		Topic:   r.Topic,
		Key:     r.Key,
		Value:   r.Value,
		Headers: toKafkaHeaders(r.Headers),
		Time:    t,
	}
}

func fromKafka(m kafka.Message) Record {
	return Record{
		Topic:     m.Topic,
		Partition: m.Partition,
		Offset:    m.Offset,
		Key:       m.Key,
		Value:     m.Value,
		Headers:   fromKafkaHeaders(m.Headers),
		Time:      m.Time,

		HighWaterMark: m.HighWaterMark,
	}
}

// contracts.Header and kafka.Header have identical underlying types (this
// conversion would not compile otherwise), so a slice of one is a slice of
// the other: headers cross between them without copying, in both
// directions. kafka-go neither keeps nor modifies them.
var _ = kafka.Header(contracts.Header{})

func toKafkaHeaders(hs []contracts.Header) []kafka.Header {
	if len(hs) == 0 {
		return nil
	}
	return unsafe.Slice((*kafka.Header)(unsafe.Pointer(unsafe.SliceData(hs))), len(hs))
}

func fromKafkaHeaders(hs []kafka.Header) []contracts.Header {
	if len(hs) == 0 {
		return nil
	}
	return unsafe.Slice((*contracts.Header)(unsafe.Pointer(unsafe.SliceData(hs))), len(hs))
}
