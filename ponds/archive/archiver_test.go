package archive

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/internal/testenv"
)

var midnight = time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)

func newTestArchiver(t testing.TB, tb testBucket, clock *fakeClock, maxRows int) *Archiver {
	t.Helper()
	a, err := NewArchiver(tb.bucket, &Options{MaxRows: maxRows, MaxAge: 30 * time.Second, Now: clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestCrashRestartReplay crashes the archiver at random points (dropping
// whatever it buffered, as kill -9 would), restarts it from the committed
// offsets with other flush sizes and timing, and finally replays every
// partition from offset 0: each valid record ends up in the pond exactly
// once, no invalid one does, and the replay changes no object.
func TestCrashRestartReplay(t *testing.T) {
	forEachBucket(t, func(t *testing.T, tb testBucket) {
		seeds := []uint64{1, 2}
		if strings.HasPrefix(tb.url, "s3:") || testenv.Race {
			seeds = seeds[:1] // the same logic; each object is a round trip
		}
		for _, seed := range seeds {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				if seed > 1 { // a fresh prefix or folder per seed
					if strings.HasPrefix(tb.url, "s3:") {
						tb = s3Bucket(t)
					} else {
						tb = fileBucket(t)
					}
				}
				crashRestartReplay(t, tb, seed)
			})
		}
	})
}

func crashRestartReplay(t *testing.T, tb testBucket, seed uint64) {
	ctx := context.Background()
	recs := simulate(t, seed, testenv.Scale(1500, 3), 3, midnight)
	rng := mrand.New(mrand.NewPCG(seed, 1))
	clock := &fakeClock{t: midnight}
	c := &consumer{t: t, clock: clock, rng: rng, committed: map[int]int64{}, deadLetters: map[int64]bool{}}

	// Three crashes at random points, each after the archiver wrote some
	// files and committed some offsets, then a run to the end.
	for crash := range 3 {
		c.a = newTestArchiver(t, tb, clock, 10+rng.IntN(len(recs)/15))
		if c.run(ctx, recs, len(recs)/8+rng.IntN(len(recs)/4)) {
			t.Fatalf("crash %d: the run reached the end", crash)
		}
		if crash == 1 {
			// Crash in the middle of writing: the context dies during the
			// uploads; the archiver keeps its rows, and then it is dropped.
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := c.a.Flush(cctx); err == nil {
				t.Log("flush with a cancelled context succeeded (nothing buffered)")
			}
		}
	}
	c.a = newTestArchiver(t, tb, clock, 10+rng.IntN(len(recs)/15))
	if !c.run(ctx, recs, -1) {
		t.Fatal("the last run did not reach the end")
	}
	if err := c.a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, w := range c.a.Watermarks() {
		if last := lastOffsetOf(recs, w.Partition); w.Next != last+1 {
			t.Fatalf("after Close, partition %d watermark %d, want %d", w.Partition, w.Next, last+1)
		}
	}
	digests := checkExactlyOnce(t, tb.bucket, recs)
	if len(digests) < 10 {
		t.Fatalf("only %d objects: the test did not exercise file boundaries", len(digests))
	}

	// Replay everything from offset 0 with other boundaries: nothing changes.
	c.committed = map[int]int64{}
	c.a = newTestArchiver(t, tb, clock, 7)
	if !c.run(ctx, recs, -1) {
		t.Fatal("the replay did not reach the end")
	}
	if err := c.a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	after := checkExactlyOnce(t, tb.bucket, recs)
	if len(after) != len(digests) {
		t.Fatalf("the replay changed the object count: %d -> %d", len(digests), len(after))
	}
	for k, d := range digests {
		if after[k] != d {
			t.Fatalf("the replay rewrote %s differently", k)
		}
	}
}

func lastOffsetOf(recs []record, partition int) int64 {
	last := int64(-1)
	for _, r := range recs {
		if r.pos.Partition == partition {
			last = max(last, r.pos.Offset)
		}
	}
	return last
}

// TestDeadLetterNeverStops feeds bad records between good ones: each bad
// one is refused with the reason, none is written, and the next record is
// archived.
func TestDeadLetterNeverStops(t *testing.T) {
	ctx := context.Background()
	tb := fileBucket(t)
	strict := ValidatorFunc(func(typ string, data []byte) error {
		if strings.Contains(string(data), "forbidden") {
			return errors.New("schema says no")
		}
		return nil
	})
	a, err := NewArchiver(tb.bucket, &Options{Validator: strict})
	if err != nil {
		t.Fatal(err)
	}
	good := func(i int) contracts.Event {
		e, _ := contracts.New("/services/test", "lab.probe.v1", map[string]int{"n": i})
		return e
	}
	pos := func(o int64) Position { return Position{Topic: "rivers", Partition: 0, Offset: o, Time: midnight} }
	badSchema, _ := contracts.New("/services/test", "lab.probe.v1", map[string]string{"x": "forbidden"})
	badType := good(0)
	badType.Type = "../escape"
	noTime := good(0)
	noTime.Time = time.Time{}
	reading, _ := contracts.New("/services/test", events.TypeMeterReading, map[string]any{"meter_id": "m"})

	steps := []struct {
		add  func(o int64) error
		want string // "" for accepted, else a piece of the reason
	}{
		{func(o int64) error { return a.Add(ctx, pos(o), good(1)) }, ""},
		{func(o int64) error {
			return a.AddMessage(ctx, pos(o), contracts.Message{Value: []byte("{"), Headers: []contracts.Header{{Key: "ce_id", Value: []byte("x")}}})
		}, "specversion"},
		{func(o int64) error { return a.Add(ctx, pos(o), badSchema) }, "schema says no"},
		{func(o int64) error { return a.Add(ctx, pos(o), badType) }, "cannot name a folder"},
		{func(o int64) error { return a.Add(ctx, Position{Topic: "rivers", Offset: o}, noTime) }, "no ce_time"},
		{func(o int64) error { return a.Add(ctx, pos(o), reading) }, "invalid meter reading"},
		{func(o int64) error { return a.Add(ctx, pos(o), good(2)) }, ""},
	}
	for i, s := range steps {
		err := s.add(int64(i))
		if s.want == "" {
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			continue
		}
		var ie *InvalidEventError
		if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidEvent) || ie.Position.Offset != int64(i) || !strings.Contains(err.Error(), s.want) {
			t.Fatalf("step %d: err = %v, want an *InvalidEventError at offset %d mentioning %q", i, err, i, s.want)
		}
	}
	if w := a.Watermarks(); len(w) != 1 || w[0].Next != 0 {
		t.Fatalf("before the flush, watermarks = %+v, want next 0 (the first row is buffered)", w)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if w := a.Watermarks(); len(w) != 1 || w[0].Next != int64(len(steps)) {
		t.Fatalf("after Close, watermarks = %+v, want next %d", w, len(steps))
	}
	rows, _ := pondContents(t, tb.bucket)
	if len(rows) != 2 || len(rows[Position{Topic: "rivers", Offset: 0}]) != 1 || len(rows[Position{Topic: "rivers", Offset: 6}]) != 1 {
		t.Fatalf("pond rows = %v, want offsets 0 and 6 only", rows)
	}
	if err := a.Add(ctx, pos(99), good(3)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

func TestOutOfOrderAndForget(t *testing.T) {
	ctx := context.Background()
	tb := fileBucket(t)
	a, err := NewArchiver(tb.bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := contracts.New("/services/test", "lab.probe.v1", map[string]int{"n": 1})
	pos := func(o int64) Position { return Position{Topic: "rapids", Partition: 2, Offset: o} }
	for _, o := range []int64{10, 11} {
		if err := a.Add(ctx, pos(o), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Add(ctx, pos(11), e); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("Add of offset 11 again: %v, want ErrOutOfOrder", err)
	}
	if w := a.Watermarks(); len(w) != 1 || w[0] != (Watermark{Topic: "rapids", Partition: 2, Next: 10}) {
		t.Fatalf("watermarks = %+v", w)
	}
	a.Forget("rapids", 2) // revoked, or a rewind: buffered rows are dropped
	if w := a.Watermarks(); len(w) != 0 {
		t.Fatalf("watermarks after Forget = %+v", w)
	}
	for _, o := range []int64{10, 11, 12} {
		if err := a.Add(ctx, pos(o), e); err != nil {
			t.Fatalf("Add(%d) after Forget: %v", o, err)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rows, _ := pondContents(t, tb.bucket)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	if err := a.Add(ctx, Position{Topic: "bad topic", Offset: 1}, e); err == nil {
		t.Fatal("a bad topic name was accepted")
	}
}

func TestFlushDueByRowsBytesAge(t *testing.T) {
	ctx := context.Background()
	tb := fileBucket(t)
	clock := &fakeClock{t: midnight}
	a, err := NewArchiver(tb.bucket, &Options{MaxRows: 5, MaxBytes: 1 << 20, MaxAge: time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		objs, err := List(ctx, tb.bucket, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(objs)
	}
	add := func(p int, o int64, size int) {
		e, _ := contracts.New("/services/test", "lab.probe.v1", map[string]string{"pad": strings.Repeat("x", size)})
		e.Time = midnight
		if err := a.Add(ctx, Position{Topic: "rapids", Partition: p, Offset: o}, e); err != nil {
			t.Fatal(err)
		}
	}
	for o := range int64(5) {
		add(0, o, 10)
	}
	add(1, 0, 10)
	if err := a.FlushDue(ctx); err != nil || count() != 1 {
		t.Fatalf("after 5 rows of MaxRows 5: %d objects, %v; want 1", count(), err)
	}
	clock.Advance(59 * time.Second)
	if _ = a.FlushDue(ctx); count() != 1 {
		t.Fatalf("a 59s-old file was flushed")
	}
	clock.Advance(time.Second)
	if err := a.FlushDue(ctx); err != nil || count() != 2 {
		t.Fatalf("a 60s-old file was not flushed: %d objects", count())
	}
	add(1, 1, 600<<10)
	add(1, 2, 600<<10) // now over 1 MiB
	if err := a.FlushDue(ctx); err != nil || count() != 3 {
		t.Fatalf("a file over MaxBytes was not flushed: %d objects", count())
	}
	if _, err := NewArchiver(tb.bucket, &Options{Compression: "lzma"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown compression: %v", err)
	}
}

// TestStrandedTemporaryFile: a kill -9 during a file:// write can leave the
// temporary file beside the object. It is no object: List, the index and
// analysts' globs (*.parquet) all pass it by.
func TestStrandedTemporaryFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := OpenBucket(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stranded := filepath.Join(dir, "rapids", "ce_type=lab.probe.v1", "date=2025-03-02", objectKeyBase(0, 5)+".18a2b3c4d5e6f708.tmp")
	if err := os.MkdirAll(filepath.Dir(stranded), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stranded, []byte("half a parquet file"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, _ := NewArchiver(b, nil)
	e, _ := contracts.New("/services/test", "lab.probe.v1", map[string]int{"n": 1})
	e.Time = midnight
	for o := range int64(10) {
		if err := a.Add(ctx, Position{Topic: "rapids", Offset: o}, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	objs, err := List(ctx, b, Filter{})
	if err != nil || len(objs) != 1 || objs[0].FirstOffset != 0 {
		t.Fatalf("List = %+v, %v; want the one object", objs, err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "rapids", "ce_type=*", "*", "*.parquet"))
	if len(matches) != 1 {
		t.Fatalf("*.parquet matches %v", matches)
	}
}

// objectKeyBase is the file name part of an object key.
func objectKeyBase(partition int, first int64) string {
	k := ObjectKey("rapids", "lab.probe.v1", "2025-03-02", partition, first)
	return k[strings.LastIndex(k, "/")+1:]
}

// TestLegacyLayout: a pond written with the old type= folders (renamed
// to ce_type= because the type column clashed) is still listed and
// read, and its files still count for a replay: archiving the same records
// again writes nothing, in either layout.
func TestLegacyLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := OpenBucket(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	recs := simulate(t, 11, 600, 2, midnight)
	archiveAll := func() {
		t.Helper()
		a, err := NewArchiver(b, &Options{MaxRows: 50, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := a.AddMessage(ctx, r.pos, r.msg); (err == nil) != r.valid {
				t.Fatalf("Add(%d@%d) = %v, valid %v", r.pos.Partition, r.pos.Offset, err, r.valid)
			}
		}
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	archiveAll()
	// Rename every type folder to the legacy key, as an old archiver wrote it.
	folders, _ := filepath.Glob(filepath.Join(dir, "rapids", TypeKey+"=*"))
	if len(folders) < 3 {
		t.Fatalf("type folders %v, want readings, missed reads and probes", folders)
	}
	for _, f := range folders {
		legacy := filepath.Join(filepath.Dir(f), LegacyTypeKey+"="+strings.TrimPrefix(filepath.Base(f), TypeKey+"="))
		if err := os.Rename(f, legacy); err != nil {
			t.Fatal(err)
		}
	}
	before := checkExactlyOnce(t, b, recs)
	objs, err := List(ctx, b, Filter{Topic: "rapids", Type: "meter.reading.v1"})
	if err != nil || len(objs) == 0 || !strings.Contains(objs[0].Key, "/type=meter.reading.v1/") {
		t.Fatalf("List(type) of a legacy pond = %d objects, %v", len(objs), err)
	}
	archiveAll() // a replay from offset 0 across the rename
	after := checkExactlyOnce(t, b, recs)
	if len(after) != len(before) {
		t.Fatalf("the replay wrote %d objects beside the legacy %d", len(after)-len(before), len(before))
	}
}
