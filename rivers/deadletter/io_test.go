package deadletter

import (
	"context"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

func TestReadAndReplayOnBroker(t *testing.T) {
	cfg := brokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dlqTopic := rapids.DLQ(cfg.Topics.Rivers)
	now := time.Now()
	var recs []rapids.Record
	for i, class := range []string{"permanent", "permanent", "schema"} {
		r := deadLetter(t, int64(i+1), "usage.interval.v1", class, "boom", now, 0)
		r.Topic = dlqTopic
		for j := range r.Headers {
			if r.Headers[j].Key == HeaderOriginTopic {
				r.Headers[j].Value = []byte(cfg.Topics.Rivers)
			}
		}
		recs = append(recs, r)
	}
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	letters, err := Read(ctx, cfg, []string{dlqTopic}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 3 {
		t.Fatalf("read %d letters, want 3", len(letters))
	}
	plan := PlanReplay(letters, Filter{Error: "permanent"}, 0)
	n, err := Replay(ctx, p, plan)
	if err != nil || n != 2 {
		t.Fatalf("replayed %d, %v", n, err)
	}
	// the origin topic now carries the two events, with their original ids
	back, err := Read(ctx, cfg, []string{cfg.Topics.Rivers}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{plan.Replay[0].ID: true, plan.Replay[1].ID: true}
	if len(back) != 2 {
		t.Fatalf("origin topic holds %d records", len(back))
	}
	for _, l := range back {
		ev, err := contracts.DecodeBinary(l.Record.Message())
		if err != nil {
			t.Fatal(err)
		}
		if !want[ev.ID] || l.Replays != 1 {
			t.Errorf("replayed event %s (replays %d) is not one of the originals", ev.ID, l.Replays)
		}
	}
}
