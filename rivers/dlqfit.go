package rivers

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// DeadLetterInfo says who gave up on a record, and why, for [NewDeadLetter].
type DeadLetterInfo struct {
	Group    string // consumer group (dlq_consumer_group)
	Service  string // service name (dlq_service)
	Instance string // instance id (dlq_instance)
	River    string // failed river; empty for record-level failures (dlq_river)
	Class    string // one of the Class* constants (dlq_error_class)
	Err      error  // the cause (dlq_error, at most 1 KiB)
	Attempts int    // handler attempts made (dlq_attempts)
	Time     time.Time
	// MaxBytes is the largest record the producer accepts (its
	// rapids.Config.BatchBytes). Zero means rapids.DefaultBatchBytes.
	MaxBytes int64
}

// NewDeadLetter returns the dead letter of rec for "<rec.Topic>.dlq": rec's
// key, value and headers (its own dlq_ headers dropped) plus the dlq_
// headers of info, fitted to info.MaxBytes with [FitDeadLetter].
func NewDeadLetter(rec Record, info DeadLetterInfo) Record {
	hs := make([]contracts.Header, 0, len(rec.Headers)+12)
	for _, h := range rec.Headers {
		if !strings.HasPrefix(h.Key, "dlq_") {
			hs = append(hs, h)
		}
	}
	add := func(k, v string) { hs = append(hs, contracts.Header{Key: k, Value: []byte(v)}) }
	add(HeaderDLQOriginTopic, rec.Topic)
	add(HeaderDLQOriginPartition, strconv.Itoa(rec.Partition))
	add(HeaderDLQOriginOffset, strconv.FormatInt(rec.Offset, 10))
	if !rec.Time.IsZero() {
		add(HeaderDLQOriginTime, rec.Time.UTC().Format(time.RFC3339Nano))
	}
	add(HeaderDLQConsumerGroup, info.Group)
	add(HeaderDLQService, info.Service)
	add(HeaderDLQInstance, info.Instance)
	if info.River != "" {
		add(HeaderDLQRiver, info.River)
	}
	add(HeaderDLQErrorClass, info.Class)
	msg := ""
	if info.Err != nil {
		msg = truncate(info.Err.Error(), maxDLQError)
	}
	add(HeaderDLQError, msg)
	add(HeaderDLQAttempts, strconv.Itoa(info.Attempts))
	when := info.Time
	if when.IsZero() {
		when = time.Now()
	}
	add(HeaderDLQTime, when.UTC().Format(time.RFC3339Nano))
	letter := Record{Topic: rapids.DLQ(rec.Topic), Key: rec.Key, Value: rec.Value, Headers: hs}
	return FitDeadLetter(letter, info.MaxBytes)
}

// deadLetterMargin is kept free below the record limit for what the size
// estimate leaves out: the record batch's own header and the broker's
// accounting, which count a few dozen bytes more than a producer does.
const deadLetterMargin = 512

// keptWhenMinimal are the event headers a minimal letter keeps, when short,
// so that tools can still name and group the event.
var keptWhenMinimal = []string{contracts.HeaderID, contracts.HeaderSource, contracts.HeaderType, contracts.HeaderTime}

// maxKeptBytes bounds a key or header value a minimal letter keeps.
const maxKeptBytes = 256

// RecordBytes is the size of r as a Kafka producer counts it against its
// record limit: key, value, and each header's key and value, with their
// length prefixes and the record's fixed fields.
func RecordBytes(r Record) int64 {
	n := int64(len(r.Key) + len(r.Value) + 32)
	for _, h := range r.Headers {
		n += int64(len(h.Key) + len(h.Value) + 10)
	}
	return n
}

// FitDeadLetter returns letter unchanged when it fits in maxBytes (zero:
// rapids.DefaultBatchBytes). Otherwise it leaves the original value out,
// and records its size and SHA-256 and the whole record's size in the
// dlq_omitted, dlq_payload_bytes, dlq_payload_sha256 and dlq_record_bytes
// headers; when the letter still does not fit (huge key or headers), it
// leaves out the key and the original headers too, as [MinimalDeadLetter]
// does. The dlq_origin_* headers say where the whole record still is.
func FitDeadLetter(letter Record, maxBytes int64) Record {
	if maxBytes <= 0 {
		maxBytes = rapids.DefaultBatchBytes
	}
	limit := max(maxBytes-deadLetterMargin, maxBytes/2)
	if RecordBytes(letter) <= limit {
		return letter
	}
	if _, done := contracts.HeaderValue(letter.Headers, HeaderDLQOmitted); done {
		return MinimalDeadLetter(letter) // already fitted once: the limit was lower than thought
	}
	fitted := omitValue(letter)
	if RecordBytes(fitted) <= limit {
		return fitted
	}
	return MinimalDeadLetter(letter)
}

// MinimalDeadLetter returns letter without its original value, its key and
// its original headers (but for short ce_id, ce_source, ce_type and
// ce_time), with the dlq_ headers saying what was left out. It is what a
// sender falls back to when the broker refuses a letter as too large.
func MinimalDeadLetter(letter Record) Record {
	fitted := omitValue(letter)
	hs := make([]contracts.Header, 0, len(fitted.Headers))
	for _, h := range fitted.Headers {
		switch {
		case h.Key == HeaderDLQOmitted:
			h.Value = []byte("value,key,headers")
		case strings.HasPrefix(h.Key, "dlq_"):
			if len(h.Value) > maxDLQError+64 { // dlq_ headers are short; a forged one is not kept
				continue
			}
		case !keptMinimal(h):
			continue
		}
		hs = append(hs, h)
	}
	fitted.Headers = hs
	if len(fitted.Key) > maxKeptBytes {
		fitted.Key = nil
	}
	return fitted
}

func keptMinimal(h contracts.Header) bool {
	if len(h.Value) > maxKeptBytes {
		return false
	}
	for _, k := range keptWhenMinimal {
		if h.Key == k {
			return true
		}
	}
	return false
}

// omitValue returns letter with its value left out and described, once.
func omitValue(letter Record) Record {
	if _, done := contracts.HeaderValue(letter.Headers, HeaderDLQOmitted); done {
		return letter
	}
	sum := sha256.Sum256(letter.Value)
	size := RecordBytes(Record{Key: letter.Key, Value: letter.Value, Headers: originalHeaders(letter.Headers)})
	hs := make([]contracts.Header, 0, len(letter.Headers)+4)
	hs = append(hs, letter.Headers...)
	add := func(k, v string) { hs = append(hs, contracts.Header{Key: k, Value: []byte(v)}) }
	add(HeaderDLQOmitted, "value")
	add(HeaderDLQPayloadBytes, strconv.Itoa(len(letter.Value)))
	add(HeaderDLQPayloadSHA256, hex.EncodeToString(sum[:]))
	add(HeaderDLQRecordBytes, strconv.FormatInt(size, 10))
	letter.Headers = hs
	letter.Value = nil
	return letter
}

func originalHeaders(hs []contracts.Header) []contracts.Header {
	out := make([]contracts.Header, 0, len(hs))
	for _, h := range hs {
		if !strings.HasPrefix(h.Key, "dlq_") {
			out = append(out, h)
		}
	}
	return out
}
