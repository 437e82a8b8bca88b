package rivers

import (
	"fmt"
	"strconv"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// Dead-letter record headers. A record on "<topic>.dlq" is the original
// record (key, value and headers, unchanged) plus these headers, which say
// where it came from and why it could not be processed. Tools such as
// `watershed dlq` read them with [ParseDeadLetter].
const (
	HeaderDLQOriginTopic     = "dlq_origin_topic"     // topic the record was read from
	HeaderDLQOriginPartition = "dlq_origin_partition" // its partition, decimal
	HeaderDLQOriginOffset    = "dlq_origin_offset"    // its offset, decimal
	HeaderDLQOriginTime      = "dlq_origin_time"      // its record timestamp, RFC 3339
	HeaderDLQConsumerGroup   = "dlq_consumer_group"   // the consumer group that gave up
	HeaderDLQService         = "dlq_service"          // the service's name
	HeaderDLQInstance        = "dlq_instance"         // the service's instance id
	HeaderDLQRiver           = "dlq_river"            // the river whose handler failed; empty for record-level failures
	HeaderDLQErrorClass      = "dlq_error_class"      // one of the Class* constants
	HeaderDLQError           = "dlq_error"            // the error message (at most 1 KiB)
	HeaderDLQAttempts        = "dlq_attempts"         // handler attempts made, decimal; 0 when no handler ran
	HeaderDLQTime            = "dlq_time"             // when it was dead-lettered, RFC 3339

	// Set only on a letter that would not fit the producer's record limit
	// whole (see [FitDeadLetter]): the original value, and if need be its
	// key and headers, are left out; these say what it was, so that it can
	// be found at its origin (topic, partition, offset).
	HeaderDLQOmitted       = "dlq_omitted"        // what was left out: "value", or "value,key,headers"
	HeaderDLQPayloadBytes  = "dlq_payload_bytes"  // the original value's size in bytes, decimal
	HeaderDLQPayloadSHA256 = "dlq_payload_sha256" // the original value's SHA-256, lowercase hex
	HeaderDLQRecordBytes   = "dlq_record_bytes"   // the original record's size (key, value, headers) as a producer counts it
)

// Dead-letter classes (header dlq_error_class). Expired events are not
// dead-lettered: they are dropped and counted.
const (
	ClassMalformed        = "malformed"         // not a decodable CloudEvent: missing or bad attributes, bad JSON, too large
	ClassSchema           = "schema"            // the payload does not match its type's schema
	ClassLoop             = "loop"              // hop count past the cut-off (MAX_HOPS)
	ClassPermanent        = "permanent"         // the handler returned a permanent error
	ClassRetriesExhausted = "retries_exhausted" // the handler kept failing transiently
	ClassPanic            = "panic"             // the handler panicked
	ClassUnauthorised     = "unauthorised"      // a control event without a valid signature of a trusted publisher
)

// maxDLQError bounds the dlq_error header.
const maxDLQError = 1024

// DeadLetter is a parsed dead-letter record.
type DeadLetter struct {
	OriginTopic     string
	OriginPartition int
	OriginOffset    int64
	OriginTime      time.Time
	ConsumerGroup   string
	Service         string
	Instance        string
	River           string
	Class           string
	Error           string
	Attempts        int
	Time            time.Time
	// Omitted says what of the original record the letter left out to fit
	// the record limit ("value", or "value,key,headers"); empty when the
	// letter holds the whole record. PayloadBytes and PayloadSHA256 then
	// describe the original value.
	Omitted       string
	PayloadBytes  int64
	PayloadSHA256 string

	// Message is the original record: key, value and headers without the
	// dlq_ headers, ready to publish again on OriginTopic.
	Message contracts.Message
}

// ParseDeadLetter reads a dead-letter record's origin and cause. It fails
// when the record lacks dlq_origin_topic or dlq_error_class.
func ParseDeadLetter(rec Record) (DeadLetter, error) {
	var d DeadLetter
	d.Message.Key = rec.Key
	d.Message.Value = rec.Value
	var err error
	for _, h := range rec.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderDLQOriginTopic:
			d.OriginTopic = v
		case HeaderDLQOriginPartition:
			d.OriginPartition, err = strconv.Atoi(v)
		case HeaderDLQOriginOffset:
			d.OriginOffset, err = strconv.ParseInt(v, 10, 64)
		case HeaderDLQOriginTime:
			d.OriginTime, err = time.Parse(time.RFC3339Nano, v)
		case HeaderDLQConsumerGroup:
			d.ConsumerGroup = v
		case HeaderDLQService:
			d.Service = v
		case HeaderDLQInstance:
			d.Instance = v
		case HeaderDLQRiver:
			d.River = v
		case HeaderDLQErrorClass:
			d.Class = v
		case HeaderDLQError:
			d.Error = v
		case HeaderDLQAttempts:
			d.Attempts, err = strconv.Atoi(v)
		case HeaderDLQTime:
			d.Time, err = time.Parse(time.RFC3339Nano, v)
		case HeaderDLQOmitted:
			d.Omitted = v
		case HeaderDLQPayloadBytes:
			d.PayloadBytes, err = strconv.ParseInt(v, 10, 64)
		case HeaderDLQPayloadSHA256:
			d.PayloadSHA256 = v
		case HeaderDLQRecordBytes:
			// informational: the original record's size
		default:
			d.Message.Headers = append(d.Message.Headers, h)
		}
		if err != nil {
			return DeadLetter{}, fmt.Errorf("rivers: dead letter: header %s: %w", h.Key, err)
		}
	}
	if d.OriginTopic == "" || d.Class == "" {
		return DeadLetter{}, fmt.Errorf("rivers: not a dead letter: no %s or %s header", HeaderDLQOriginTopic, HeaderDLQErrorClass)
	}
	return d, nil
}

// deadLetterRecord builds the record for "<topic>.dlq", fitted to the
// producer's record limit (see [NewDeadLetter]).
func (s *Service) deadLetterRecord(rec *Record, river, class string, cause error, attempts int) Record {
	return NewDeadLetter(*rec, DeadLetterInfo{
		Group: s.cfg.Group, Service: s.cfg.Name, Instance: s.cfg.Instance, River: river,
		Class: class, Err: cause, Attempts: attempts, Time: s.clock.Now(),
		MaxBytes: s.cfg.Kafka.BatchBytes,
	})
}
