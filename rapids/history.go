package rapids

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// ReadPartition calls fn with the records of one partition from the first
// whose record time is at or after since (the zero time: the first record
// retained) up to, not including, offset end, in offset order. It reads
// outside the consumer group (nothing is committed, no rebalance is
// caused), so a member can rebuild the state of a partition it was just
// assigned from that partition's own history before it handles the
// partition's new records. An error from fn stops the read and is
// returned.
func (c *Consumer) ReadPartition(ctx context.Context, tp TopicPartition, since time.Time, end int64, fn func(Record) error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if end <= 0 {
		return nil
	}
	start, err := c.offsetAt(ctx, tp, since)
	if err != nil {
		return err
	}
	if start < 0 || start >= end {
		return nil
	}
	rc := kafka.ReaderConfig{
		Brokers:     c.r.Config().Brokers,
		Topic:       tp.Topic,
		Partition:   tp.Partition,
		Dialer:      c.conn.dialer,
		MinBytes:    1,
		MaxBytes:    c.opts.fetchMaxBytes,
		MaxWait:     c.opts.fetchMaxWait,
		Logger:      kafkaLogger{log: c.log, level: slog.LevelDebug},
		ErrorLogger: kafkaLogger{log: c.log, level: slog.LevelWarn},
	}
	r, err := newReader(rc)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		return fmt.Errorf("rapids: read %s/%d from %d: %w", tp.Topic, tp.Partition, start, err)
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("rapids: read %s/%d up to %d: %w", tp.Topic, tp.Partition, end, err)
		}
		if m.Offset >= end {
			return nil
		}
		if err := fn(fromKafka(m)); err != nil {
			return err
		}
		if m.Offset+1 >= end {
			return nil
		}
	}
}

// offsetAt returns the offset of the first record of tp whose time is at
// or after since (the first retained record for the zero time); negative
// when there is none.
func (c *Consumer) offsetAt(ctx context.Context, tp TopicPartition, since time.Time) (int64, error) {
	req := kafka.FirstOffsetOf(tp.Partition)
	if !since.IsZero() {
		req = kafka.TimeOffsetOf(tp.Partition, since)
	}
	client := &kafka.Client{Addr: c.conn.addr, Transport: c.conn.transport, Timeout: c.conn.timeout}
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Addr: c.conn.addr,
		Topics: map[string][]kafka.OffsetRequest{tp.Topic: {req}}})
	if err != nil {
		return 0, fmt.Errorf("rapids: offsets of %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	for _, p := range res.Topics[tp.Topic] {
		if p.Partition != tp.Partition {
			continue
		}
		if p.Error != nil {
			return 0, fmt.Errorf("rapids: offsets of %s/%d: %w", tp.Topic, tp.Partition, p.Error)
		}
		if since.IsZero() {
			return p.FirstOffset, nil
		}
		for off := range p.Offsets {
			return off, nil // the offset of the first record at or after since
		}
		return -1, nil
	}
	return 0, errors.New("rapids: offsets of " + tp.Topic + ": the broker did not answer for the partition")
}
