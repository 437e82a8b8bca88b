package archive

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/ponds/internal/testenv"
)

// logRecord is one record of the Kafka log the child process consumes.
type logRecord struct {
	Partition int                `json:"p"`
	Offset    int64              `json:"o"`
	Time      time.Time          `json:"t"`
	Key       []byte             `json:"k"`
	Value     []byte             `json:"v"`
	Headers   []contracts.Header `json:"h"`
}

// TestKillMidFileAndRestart runs the archiver in a child process over a
// file:// pond, kills it with SIGKILL while it writes, then restarts from
// the offsets it had committed: every valid record is in the pond exactly
// once. A replay from offset 0 then changes nothing.
func TestKillMidFileAndRestart(t *testing.T) {
	dir := t.TempDir()
	pond, logFile, commits := filepath.Join(dir, "pond"), filepath.Join(dir, "log.jsonl"), filepath.Join(dir, "commits.json")
	recs := simulate(t, 11, testenv.Scale(4000, 4), 2, midnight)
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, r := range recs {
		if err := enc.Encode(logRecord{r.pos.Partition, r.pos.Offset, r.pos.Time, r.msg.Key, r.msg.Value, r.msg.Headers}); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestArchiverChildProcess$")
	cmd.Env = append(os.Environ(), "WATERSHED_ARCHIVE_CHILD=1", "CHILD_POND="+pond, "CHILD_LOG="+logFile, "CHILD_COMMITS="+commits)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once it has written a few dozen objects and committed.
	deadline := time.Now().Add(60 * time.Second)
	for {
		objs, _ := filepath.Glob(filepath.Join(pond, "rapids", "*", "*", "*.parquet"))
		if _, err := os.Stat(commits); err == nil && len(objs) >= 12 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the child wrote too few objects in 60s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Stat(commits + ".end"); err == nil {
		t.Log("the child had consumed the whole log when it was killed (a very slow parent): the restart only replays")
	}

	committed := readCommits(t, commits)
	t.Logf("killed; committed offsets %v", committed)
	ctx := context.Background()
	tb := testBucket{url: "file://" + pond}
	if tb.bucket, err = OpenBucket(ctx, tb.url); err != nil {
		t.Fatal(err)
	}
	defer tb.bucket.Close()
	c := &consumer{t: t, clock: &fakeClock{t: midnight}, rng: newRand(3), committed: committed, deadLetters: map[int64]bool{}}
	c.a = newTestArchiver(t, tb, c.clock, 90)
	if !c.run(ctx, recs, -1) {
		t.Fatal("the restart did not reach the end")
	}
	if err := c.a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	before := checkExactlyOnce(t, tb.bucket, recs)

	c.committed = map[int]int64{}
	c.a = newTestArchiver(t, tb, c.clock, 1000)
	c.run(ctx, recs, -1)
	if err := c.a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	after := checkExactlyOnce(t, tb.bucket, recs)
	if len(after) != len(before) {
		t.Fatalf("the replay from 0 changed the objects: %d -> %d", len(before), len(after))
	}
	for k, d := range before {
		if after[k] != d {
			t.Fatalf("the replay from 0 rewrote %s", k)
		}
	}
}

func readCommits(t *testing.T, file string) map[int]int64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	out := map[int]int64{}
	for k, v := range m {
		p, _ := strconv.Atoi(k)
		out[p] = v
	}
	return out
}

// TestArchiverChildProcess is the archiver process TestKillMidFileAndRestart
// kills. It consumes the log from the start, flushes small files and commits
// after every flush, the way the raw-archiver service does.
func TestArchiverChildProcess(t *testing.T) {
	if os.Getenv("WATERSHED_ARCHIVE_CHILD") != "1" {
		t.Skip("the child process of TestKillMidFileAndRestart")
	}
	ctx := context.Background()
	b, err := OpenBucket(ctx, os.Getenv("CHILD_POND"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewArchiver(b, &Options{MaxRows: 40, MaxAge: 300 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.Getenv("CHILD_LOG"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	commits := os.Getenv("CHILD_COMMITS")
	for i := 0; sc.Scan(); i++ {
		var r logRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		pos := Position{Topic: "rapids", Partition: r.Partition, Offset: r.Offset, Time: r.Time}
		_ = a.AddMessage(ctx, pos, contracts.Message{Key: r.Key, Value: r.Value, Headers: r.Headers}) // invalid ones are dead-lettered
		if err := a.FlushDue(ctx); err != nil {
			t.Fatal(err)
		}
		m := map[string]int64{}
		for _, w := range a.Watermarks() {
			m[strconv.Itoa(w.Partition)] = w.Next
		}
		data, _ := json.Marshal(m)
		if err := os.WriteFile(commits+".tmp", data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(commits+".tmp", commits); err != nil { // a commit is atomic, as Kafka's is
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // slow enough to be killed mid-run
	}
	// The parent kills us in any case: wait for it.
	if err := os.WriteFile(commits+".end", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute)
}
