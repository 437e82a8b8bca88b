package rapids

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// PartitionRange is the records of one partition present at one moment:
// offsets Start (the first one kept) up to End (the next one to be
// written), End excluded.
type PartitionRange struct {
	Topic     string
	Partition int
	Start     int64
	End       int64
}

// Ranges returns, for every partition of topics, its first and end
// offsets now. A topic that does not exist has no ranges.
func Ranges(ctx context.Context, cfg Config, topics ...string) ([]PartitionRange, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rapids: offsets: %w", err)
	}
	parts, err := TopicPartitions(ctx, cfg, topics...)
	if err != nil {
		return nil, err
	}
	conn, err := newConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("rapids: offsets: %w", err)
	}
	defer conn.close()
	// kafka-go sends one request per partition and offset, and reports a
	// request that failed on the wire (a timeout on a busy broker) as that
	// partition's "Unknown" error: ask again for those, a few times.
	want := map[string][]int{}
	for t, n := range parts {
		for p := range n {
			want[t] = append(want[t], p)
		}
	}
	client := &kafka.Client{Addr: conn.addr, Transport: conn.transport, Timeout: cfg.WriteTimeout}
	var out []PartitionRange
	for attempt := 1; len(want) > 0; attempt++ {
		req := &kafka.ListOffsetsRequest{Addr: conn.addr, Topics: map[string][]kafka.OffsetRequest{}}
		for t, ps := range want {
			for _, p := range ps {
				req.Topics[t] = append(req.Topics[t], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
			}
		}
		res, err := client.ListOffsets(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("rapids: offsets of %v: %w", topics, conn.authError(err))
		}
		failed := map[string][]int{}
		var lastErr error
		for t, ps := range res.Topics {
			for _, p := range ps {
				if p.Error != nil {
					failed[t] = append(failed[t], p.Partition)
					lastErr = fmt.Errorf("rapids: offsets of %s/%d: %w", t, p.Partition, p.Error)
					continue
				}
				out = append(out, PartitionRange{Topic: t, Partition: p.Partition, Start: max(p.FirstOffset, 0), End: max(p.LastOffset, 0)})
			}
		}
		if len(failed) == 0 {
			break
		}
		if attempt == 4 || ctx.Err() != nil {
			return nil, lastErr
		}
		select {
		case <-ctx.Done():
			return nil, lastErr
		case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
		}
		want = failed
	}
	slices.SortFunc(out, func(a, b PartitionRange) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return a.Partition - b.Partition
	})
	return out, nil
}

// ReadRanges reads the records of each range, in offset order per
// partition, one partition after the other, and calls fn with each. It
// joins no consumer group and commits nothing, and it stops at each
// range's End, so it finishes however busy the topics are. Offsets a
// partition does not hold (compacted away, transaction markers) are
// skipped: a partition is taken as read when no record came for gap
// (default 2s) while the broker answered fetches at its position with
// nothing (a slow broker or a loaded machine only makes it wait longer). fn's error stops it.
func ReadRanges(ctx context.Context, cfg Config, ranges []PartitionRange, gap time.Duration, fn func(Record) error) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("rapids: read: %w", err)
	}
	if gap <= 0 {
		gap = 2 * time.Second
	}
	conn, err := newConnection(cfg)
	if err != nil {
		return fmt.Errorf("rapids: read: %w", err)
	}
	defer conn.close()
	for _, pr := range ranges {
		if pr.End <= pr.Start {
			continue
		}
		if err := readRange(ctx, cfg, conn, pr, gap, fn); err != nil {
			return err
		}
	}
	return nil
}

func readRange(ctx context.Context, cfg Config, conn *connection, pr PartitionRange, gap time.Duration, fn func(Record) error) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Brokers, Topic: pr.Topic, Partition: pr.Partition, Dialer: conn.dialer,
		MinBytes: 1, MaxBytes: DefaultFetchMaxBytes, MaxWait: 250 * time.Millisecond,
		ReadLagInterval: -1, QueueCapacity: 1000,
		Logger: kafkaLogger{log: cfg.Logger, level: -8}, ErrorLogger: kafkaLogger{log: cfg.Logger, level: -8},
	})
	defer r.Close()
	if err := r.SetOffset(pr.Start); err != nil {
		return fmt.Errorf("rapids: read %s/%d: %w", pr.Topic, pr.Partition, err)
	}
	// Slowness is not absence: a gap without a record means the rest of the
	// range holds none only if the broker answered fetches past our
	// position meanwhile. Under load, dialling and the first fetch alone can
	// take longer than gap, and a record a range promised was then skipped.
	_ = r.Stats() // counters from here
	var emptyFetches int64
	sawRecord := false
	for {
		fctx, cancel := context.WithTimeout(ctx, gap)
		m, err := r.ReadMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				// Fetches counts requests issued since the last Stats: a
				// third issued since the last record means two came back
				// empty. Records before this gap reset the count.
				fetches := r.Stats().Fetches
				if sawRecord {
					sawRecord, emptyFetches = false, 0
					continue
				}
				if emptyFetches += fetches; emptyFetches >= 3 {
					return nil // the rest of the range holds no record
				}
				continue
			}
			return fmt.Errorf("rapids: read %s/%d: %w", pr.Topic, pr.Partition, conn.authError(err))
		}
		sawRecord = true
		if m.Offset >= pr.End {
			return nil
		}
		if err := fn(fromKafka(m)); err != nil {
			return err
		}
		if m.Offset >= pr.End-1 {
			return nil
		}
	}
}
