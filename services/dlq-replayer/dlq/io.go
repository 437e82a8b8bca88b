package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// DefaultIdle is how long Read waits for a further record before it takes
// the topic as read to its end.
const DefaultIdle = 3 * time.Second

// Read returns every dead letter on topics, oldest first per partition. It
// reads from the start of each topic with a fresh consumer group (nothing
// is committed, so reading changes nothing) until no record arrived for
// idle (DefaultIdle when <= 0) or ctx is done.
func Read(ctx context.Context, cfg rapids.Config, topics []string, idle time.Duration) ([]Letter, error) {
	if idle <= 0 {
		idle = DefaultIdle
	}
	group := "watershed-dlq-reader-" + contracts.NewID()
	c, err := rapids.NewConsumer(cfg, group, topics, rapids.WithStartOffset(rapids.Earliest))
	if err != nil {
		return nil, fmt.Errorf("dlq: read %v: %w", topics, err)
	}
	defer c.Close()
	var out []Letter
	for {
		fctx, cancel := context.WithTimeout(ctx, idle)
		rec, err := c.Fetch(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return out, nil
			}
			return out, fmt.Errorf("dlq: read %v: %w", topics, err)
		}
		out = append(out, Parse(rec))
	}
}

// Replay publishes the plan's letters to their origin topics (see
// [ReplayRecord]) and returns how many were acknowledged.
func Replay(ctx context.Context, p *rapids.Producer, plan Plan) (int, error) {
	recs := make([]rapids.Record, 0, len(plan.Replay))
	for _, l := range plan.Replay {
		r, err := ReplayRecord(l)
		if err != nil {
			return 0, err
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	if err := p.Publish(ctx, recs...); err != nil {
		return 0, fmt.Errorf("dlq: replay: %w", err)
	}
	return len(recs), nil
}
