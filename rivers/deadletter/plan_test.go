package deadletter

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// world is a dead-letter topic and its origin topic, in memory: replays
// that fail again come back as letters, as a service dead-letters them.
type world struct {
	t      *testing.T
	dlq    []rapids.Record
	replay int // records published to the origin topic
}

func (w *world) letters() []Letter {
	var ls []Letter
	for i, r := range w.dlq {
		r.Offset = int64(i)
		ls = append(ls, Parse(r))
	}
	return ls
}

// run is one `watershed dlq replay` whose replays all fail again.
func (w *world) run(limit int) int {
	plan := PlanReplay(w.letters(), Filter{}, limit)
	for _, l := range plan.Replay {
		rec, err := ReplayRecord(l)
		if err != nil {
			w.t.Fatal(err)
		}
		w.replay++
		w.dlq = append(w.dlq, MarkerRecord(l, time.Now()))
		// the service fails on it again: a new letter, origin at the new offset
		again := rapids.Record{Topic: "rivers.dlq", Key: rec.Key, Value: rec.Value, Headers: slices.Clone(rec.Headers)}
		again.Headers = append(again.Headers,
			contracts.Header{Key: HeaderOriginTopic, Value: []byte("rivers")},
			contracts.Header{Key: HeaderOriginPartition, Value: []byte("0")},
			contracts.Header{Key: HeaderOriginOffset, Value: []byte(strconv.Itoa(1000 + w.replay))},
			contracts.Header{Key: HeaderErrorClass, Value: []byte("permanent")})
		w.dlq = append(w.dlq, again)
	}
	return len(plan.Replay)
}

// TestReplayLimitHoldsAcrossRuns: the original letter (count 0) stays on
// the topic; five runs with --max-replays 3 used to replay one event five
// times. The limit holds for an event with a ce_id and for a record
// without one (grouped by its first origin), whether the replay fails
// again (a new letter) or not (only the marker).
func TestReplayLimitHoldsAcrossRuns(t *testing.T) {
	withID := deadLetter(t, 1, "x.y.v1", "permanent", "e", time.Now(), 0)
	twin := withID // the same event dead-lettered by a second river
	noID := rapids.Record{Topic: "rivers.dlq", Key: []byte("k"), Value: []byte("{not json"), Headers: []contracts.Header{
		{Key: HeaderOriginTopic, Value: []byte("rivers")}, {Key: HeaderOriginPartition, Value: []byte("1")},
		{Key: HeaderOriginOffset, Value: []byte("77")}, {Key: HeaderErrorClass, Value: []byte("malformed")}}}
	for name, recs := range map[string][]rapids.Record{"ce_id": {withID, twin}, "no ce_id": {noID, noID}} {
		t.Run(name, func(t *testing.T) {
			w := &world{t: t, dlq: slices.Clone(recs)}
			var per []int
			for range 5 {
				per = append(per, w.run(3))
			}
			if w.replay != 3 || !slices.Equal(per, []int{1, 1, 1, 0, 0}) {
				t.Fatalf("replays per run %v (total %d), want [1 1 1 0 0]", per, w.replay)
			}
		})
	}
	t.Run("replay succeeds", func(t *testing.T) {
		w := &world{t: t, dlq: []rapids.Record{withID}}
		n := 0
		for range 5 {
			plan := PlanReplay(w.letters(), Filter{}, 3)
			for _, l := range plan.Replay {
				w.dlq = append(w.dlq, MarkerRecord(l, time.Now()))
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%d replays over 5 runs, want 3", n)
		}
		if got := Select(w.letters(), Filter{}); len(got) != 1 {
			t.Fatalf("markers listed as letters: %d letters", len(got))
		}
	})
}

func TestOmittedLetterIsNotReplayed(t *testing.T) {
	r := deadLetter(t, 1, "x.y.v1", "malformed", "e", time.Now(), 0)
	r.Value = nil
	r.Headers = append(r.Headers, contracts.Header{Key: "dlq_omitted", Value: []byte("value")})
	p := PlanReplay([]Letter{Parse(r)}, Filter{}, 3)
	if len(p.Replay) != 0 || len(p.Skip) != 1 {
		t.Fatalf("plan %+v", p)
	}
}
