package deadletter

import (
	"strconv"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

func deadLetter(t *testing.T, offset int64, typ, class, msg string, failed time.Time, replays int) rapids.Record {
	t.Helper()
	ev, err := contracts.New("/services/test", typ, map[string]any{"n": offset})
	if err != nil {
		t.Fatal(err)
	}
	ev.PartitionKey = "m-" + strconv.FormatInt(offset, 10)
	m, err := contracts.EncodeBinary(ev)
	if err != nil {
		t.Fatal(err)
	}
	hs := append(m.Headers,
		contracts.Header{Key: HeaderOriginTopic, Value: []byte("rivers")},
		contracts.Header{Key: HeaderOriginPartition, Value: []byte("2")},
		contracts.Header{Key: HeaderOriginOffset, Value: []byte(strconv.FormatInt(offset*10, 10))},
		contracts.Header{Key: HeaderErrorClass, Value: []byte(class)},
		contracts.Header{Key: HeaderError, Value: []byte(msg)},
		contracts.Header{Key: HeaderService, Value: []byte("usage-aggregator")},
		contracts.Header{Key: HeaderFailedAt, Value: []byte(failed.UTC().Format(time.RFC3339Nano))},
	)
	if replays > 0 {
		hs = append(hs, contracts.Header{Key: HeaderReplayCount, Value: []byte(strconv.Itoa(replays))})
	}
	return rapids.Record{Topic: "rivers.dlq", Offset: offset, Key: m.Key, Value: m.Value, Headers: hs, Time: failed}
}

func TestParseAndSummarize(t *testing.T) {
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	recs := []rapids.Record{
		deadLetter(t, 1, "usage.interval.v1", "permanent", "bad tariff", t0, 0),
		deadLetter(t, 2, "usage.interval.v1", "permanent", "bad tariff", t0.Add(time.Minute), 0),
		deadLetter(t, 3, "usage.interval.v1", "retries_exhausted", "redis down", t0.Add(2*time.Minute), 1),
		deadLetter(t, 4, "meter.reading.v1", "schema", "missing meter_id", t0.Add(3*time.Minute), 0),
	}
	var ls []Letter
	for _, r := range recs {
		ls = append(ls, Parse(r))
	}
	l := ls[2]
	if l.OriginTopic != "rivers" || l.OriginPartition != 2 || l.OriginOffset != 30 || l.ErrorClass != "retries_exhausted" ||
		l.Error != "redis down" || l.Type != "usage.interval.v1" || l.ID == "" || l.Replays != 1 || !l.FailedAt.Equal(t0.Add(2*time.Minute)) || l.Service != "usage-aggregator" {
		t.Fatalf("letter = %+v", l)
	}
	got := Summarize(ls)
	want := []Count{
		{"rivers", "meter.reading.v1", "schema", 1},
		{"rivers", "usage.interval.v1", "permanent", 2},
		{"rivers", "usage.interval.v1", "retries_exhausted", 1},
	}
	if len(got) != len(want) {
		t.Fatalf("summary = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("summary[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	sel := Select(ls, Filter{Type: "usage.interval.v1", Error: "tariff", Since: t0.Add(30 * time.Second)})
	if len(sel) != 1 || sel[0].DLQOffset != 2 {
		t.Fatalf("select = %+v", sel)
	}
	if n := len(Select(ls, Filter{Until: t0.Add(2 * time.Minute)})); n != 2 {
		t.Fatalf("until selected %d, want 2", n)
	}
	if n := len(Select(ls, Filter{Limit: 3})); n != 3 {
		t.Fatalf("limit selected %d", n)
	}
}

func TestPlanReplayRespectsLimitAndDuplicates(t *testing.T) {
	t0 := time.Now()
	a := Parse(deadLetter(t, 1, "x.y.v1", "permanent", "e", t0, 0))
	twin := a
	twin.DLQOffset = 9 // the same event dead-lettered by a second river
	worn := Parse(deadLetter(t, 2, "x.y.v1", "permanent", "e", t0, 3))
	orphan := Parse(rapids.Record{Topic: "elsewhere", Offset: 5})
	p := PlanReplay([]Letter{a, twin, worn, orphan}, Filter{}, 3)
	if len(p.Replay) != 1 || p.Replay[0].DLQOffset != 1 || len(p.Skip) != 3 {
		t.Fatalf("plan = %+v", p)
	}
	if p := PlanReplay([]Letter{worn}, Filter{}, 4); len(p.Replay) != 1 {
		t.Fatalf("a higher limit must allow the replay: %+v", p)
	}
}

func TestReplayRecordKeepsIDAndCountsReplays(t *testing.T) {
	l := Parse(deadLetter(t, 7, "x.y.v1", "permanent", "e", time.Now(), 1))
	rec, err := ReplayRecord(l)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Topic != "rivers" || string(rec.Key) != "m-7" || string(rec.Value) != string(l.Record.Value) {
		t.Fatalf("record = %+v", rec)
	}
	ev, err := contracts.DecodeBinary(rec.Message())
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != l.ID {
		t.Fatalf("replayed id %q, want the original %q", ev.ID, l.ID)
	}
	n := 0
	for _, h := range rec.Headers {
		if isDeadLetterHeader(h.Key) {
			t.Errorf("dead-letter header %s kept", h.Key)
		}
		if h.Key == HeaderReplayCount {
			n++
			if string(h.Value) != "2" {
				t.Errorf("replay count %s, want 2", h.Value)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d replay-count headers", n)
	}
	if _, err := ReplayRecord(Letter{}); err == nil {
		t.Fatal("letter without origin replayed")
	}
}
