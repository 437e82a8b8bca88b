package rapids

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Producer publishes records to Kafka with safe defaults: every record is
// acknowledged by all in-sync replicas (acks=all), keyed records go to the
// partition the Java client would choose (murmur2), batches are sent after
// Config.Linger at the latest, and compression is Config.Compression.
//
// A Producer is safe for concurrent use; concurrent Publish calls share
// batches, which is how to publish at high throughput (see README).
type Producer struct {
	w      *kafka.Writer
	conn   *connection
	cfg    Config
	closed atomic.Bool
	free   chan []kafka.Message // see messages
}

// NewProducer returns a Producer for cfg (zero fields take their defaults).
// It does not connect until the first Publish.
func NewProducer(cfg Config) (*Producer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rapids: producer config: %w", err)
	}
	codec, err := compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	conn, err := newConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("rapids: producer: %w", err)
	}
	return &Producer{w: newWriter(cfg, conn, codec), conn: conn, cfg: cfg, free: make(chan []kafka.Message, maxFreeMessages)}, nil
}

// newWriter is the kafka-go Writer with Watershed's settings. The raw
// kafka-go benchmarks build theirs with WriterSettings, the same values.
func newWriter(cfg Config, conn *connection, codec kafka.Compression) *kafka.Writer {
	return &kafka.Writer{
		Addr:         conn.addr,
		Balancer:     JavaCompatibleBalancer(),
		RequiredAcks: kafka.RequireAll,
		Compression:  codec,
		BatchSize:    cfg.BatchSize,
		BatchBytes:   cfg.BatchBytes,
		BatchTimeout: cfg.Linger,
		WriteTimeout: cfg.WriteTimeout,
		ReadTimeout:  cfg.WriteTimeout,
		MaxAttempts:  cfg.MaxAttempts,
		ErrorLogger:  kafkaLogger{log: cfg.Logger, level: slog.LevelWarn},
		Transport:    conn.transport,
	}
}

// JavaCompatibleBalancer returns the partitioner of every Watershed
// producer: a record with a key goes to toPositive(murmur2(key)) % n, as in
// the Java client's default partitioner and librdkafka's "murmur2_random",
// so one entity's events keep their order whichever language publishes
// them. A record without key (nil) goes to a random partition, as
// librdkafka's murmur2_random does.
func JavaCompatibleBalancer() kafka.Balancer { return &kafka.Murmur2Balancer{} }

// Publish sends records and returns when all of them are acknowledged by
// all in-sync replicas, or with an error. Each record names its topic; the
// partition comes from its key. A record without timestamp gets the current
// time.
//
// On failure the error is a *PublishError saying which records failed when
// the broker answered, and IsPermanent / IsRetryable tell whether to retry:
// a retry may duplicate the records that did succeed (at-least-once). When
// ctx ends first, Publish returns ctx's error and the records may or may not
// have been written. After Close it returns ErrClosed.
func (p *Producer) Publish(ctx context.Context, records ...Record) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if len(records) == 0 {
		return nil
	}
	for i := range records {
		if records[i].Topic == "" {
			return Permanent(fmt.Errorf("rapids: publish: record %d of %d has no topic", i, len(records)))
		}
	}
	msgs := p.messages(len(records))
	now := time.Now()
	for i := range records {
		msgs[i] = records[i].toKafka(now)
	}
	err := p.w.WriteMessages(ctx, msgs...)
	// The Writer copied the messages into its batches: the slice is free.
	p.recycle(msgs)
	return p.publishError(err, records)
}

// messages returns a slice of n kafka-go messages, recycled when possible.
// Publish hands it to the Writer, which copies the messages into its
// batches before WriteMessages returns. Not allocating (and zeroing) one per
// call keeps the Producer as cheap as a raw kafka-go loop (see
// BENCHMARKS.md). A free list rather than a sync.Pool, because the Writer's
// own garbage triggers collections so often that a pool is mostly empty.
func (p *Producer) messages(n int) []kafka.Message {
	select {
	case m := <-p.free:
		if cap(m) >= n {
			return m[:n]
		}
	default:
	}
	return make([]kafka.Message, n)
}

// recycle returns msgs to the free list. They keep pointing at the last
// records' bytes until reused, at most maxFreeMessages slices of at most
// maxPooledMessages messages.
func (p *Producer) recycle(msgs []kafka.Message) {
	if cap(msgs) > maxPooledMessages {
		return
	}
	select {
	case p.free <- msgs[:0]:
	default:
	}
}

const (
	maxFreeMessages   = 16
	maxPooledMessages = 1 << 14
)

func (p *Producer) publishError(err error, records []Record) error {
	if err == nil {
		return nil
	}
	var werrs kafka.WriteErrors
	var tooLarge kafka.MessageTooLargeError
	switch {
	case errors.As(err, &werrs):
		pe := &PublishError{Errs: make([]error, len(records))}
		for i, e := range werrs {
			if e != nil && i < len(records) {
				pe.Errs[i] = fmt.Errorf("record %d to %s: %w", i, records[i].Topic, p.conn.authError(e))
			}
		}
		return pe
	case errors.As(err, &tooLarge):
		return Permanent(fmt.Errorf("rapids: publish to %s: a record of %d bytes is over the batch limit of %d bytes (KAFKA_BATCH_BYTES): %w",
			tooLarge.Message.Topic, len(tooLarge.Message.Key)+len(tooLarge.Message.Value), p.cfg.BatchBytes, err))
	case errors.Is(err, io.ErrClosedPipe):
		return ErrClosed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("rapids: publish %d records: %w", len(records), err)
	}
	return fmt.Errorf("rapids: publish to %s: %w", records[0].Topic, p.conn.authError(err))
}

// Close sends the batches still lingering, waits for their acknowledgement
// and closes the connections. It is safe to call more than once.
func (p *Producer) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	err := p.w.Close()
	p.conn.close()
	return err
}
