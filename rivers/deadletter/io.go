package deadletter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/watershed-grid/watershed/rapids"
)

// DefaultIdle is how long Read waits for the next record of a partition
// before it takes the rest of the partition's range as holding none
// (compacted away, transaction markers). It is not how Read decides it is
// done: that is the end offsets taken when it starts.
const DefaultIdle = 3 * time.Second

// Read returns every dead letter (and replay marker) on topics when it
// starts, oldest first per partition. It takes each partition's end offset
// first and reads up to it, with no consumer group (nothing is joined or
// committed, so reading changes nothing): letters written meanwhile are
// left for the next read, and it finishes however busy the topics are.
// idle (DefaultIdle when <= 0) bounds the wait for a record the range
// promised but the partition no longer holds.
func Read(ctx context.Context, cfg rapids.Config, topics []string, idle time.Duration) ([]Letter, error) {
	if idle <= 0 {
		idle = DefaultIdle
	}
	ranges, err := rapids.Ranges(ctx, cfg, topics...)
	if err != nil {
		return nil, fmt.Errorf("dlq: read %v: %w", topics, err)
	}
	var out []Letter
	err = rapids.ReadRanges(ctx, cfg, ranges, idle, func(r rapids.Record) error {
		out = append(out, Parse(r))
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("dlq: read %v: %w", topics, err)
	}
	return out, nil
}

// Page is one page of letters and the cursor of the next.
type Page struct {
	Letters []Letter
	// Next resumes after this page; empty when the page reached the end
	// offsets taken when it was read.
	Next Cursor
}

// ReadPage reads at most limit letters (replay markers left out) from
// where cursor points (the zero Cursor: the start of every partition) up
// to the end offsets now. A page costs one read of limit letters, however
// long the topics are.
func ReadPage(ctx context.Context, cfg rapids.Config, topics []string, idle time.Duration, cursor Cursor, limit int) (Page, error) {
	if idle <= 0 {
		idle = DefaultIdle
	}
	ranges, err := rapids.Ranges(ctx, cfg, topics...)
	if err != nil {
		return Page{}, fmt.Errorf("dlq: read %v: %w", topics, err)
	}
	next := cursor.clone()
	for i := range ranges {
		if o, ok := cursor[rangeKey(ranges[i])]; ok && o > ranges[i].Start {
			ranges[i].Start = min(o, ranges[i].End)
		}
	}
	var page Page
	errFull := errors.New("page full")
	stopped := "" // the range a full page stopped in
	err = rapids.ReadRanges(ctx, cfg, ranges, idle, func(r rapids.Record) error {
		k := rangeKey(rapids.PartitionRange{Topic: r.Topic, Partition: r.Partition})
		next[k] = r.Offset + 1
		if l := Parse(r); !l.Marker {
			page.Letters = append(page.Letters, l)
		}
		if len(page.Letters) >= limit {
			stopped = k
			return errFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return Page{}, fmt.Errorf("dlq: read %v: %w", topics, err)
	}
	// Ranges read before the one a full page stopped in were read to their
	// end, whatever offsets at their tail held no record.
	for _, pr := range ranges {
		if rangeKey(pr) == stopped {
			break
		}
		next[rangeKey(pr)] = max(next[rangeKey(pr)], pr.End)
	}
	for _, pr := range ranges {
		if next[rangeKey(pr)] < pr.End {
			page.Next = next // something is left
			return page, nil
		}
	}
	return page, nil
}

// Replay publishes the plan's letters to their origin topics (see
// [ReplayRecord]) and a replay marker per letter to its dead-letter topic
// (see HeaderReplayMarker), in one call, and returns how many letters were
// acknowledged.
func Replay(ctx context.Context, p *rapids.Producer, plan Plan) (int, error) {
	recs := make([]rapids.Record, 0, 2*len(plan.Replay))
	now := time.Now()
	for _, l := range plan.Replay {
		r, err := ReplayRecord(l)
		if err != nil {
			return 0, err
		}
		recs = append(recs, r, MarkerRecord(l, now))
	}
	if len(recs) == 0 {
		return 0, nil
	}
	if err := p.Publish(ctx, recs...); err != nil {
		return 0, fmt.Errorf("dlq: replay: %w", err)
	}
	return len(plan.Replay), nil
}

// DefaultTopics returns the dead-letter topics of the rivers and rapids
// topics of cfg (default names "rivers" and "rapids" when unset).
func DefaultTopics(cfg rapids.Config) []string {
	t := cfg.Topics
	if t.Rivers == "" {
		t.Rivers = "rivers"
	}
	if t.Rapids == "" {
		t.Rapids = "rapids"
	}
	return []string{rapids.DLQ(t.Rivers), rapids.DLQ(t.Rapids)}
}
