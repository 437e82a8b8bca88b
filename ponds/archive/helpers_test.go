package archive

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/internal/testenv"
	"gocloud.dev/blob"
)

// testBucket is a bucket the archive tests run against, and its URL.
type testBucket struct {
	url    string
	bucket *blob.Bucket
}

// fileBucket opens a file:// bucket in a temporary folder.
func fileBucket(tb testing.TB) testBucket {
	tb.Helper()
	u := "file://" + tb.TempDir() + "/pond"
	b, err := OpenBucket(context.Background(), u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return testBucket{url: u, bucket: b}
}

// s3Env is the S3-compatible server of WATERSHED_TEST_S3.
type s3Env struct {
	endpoint, accessKey, secretKey, bucket, region string
}

func requireS3(tb testing.TB) s3Env {
	tb.Helper()
	e := s3Env{endpoint: testenv.Require(tb, "WATERSHED_TEST_S3", "real S3-compatible server")}
	e.accessKey = testenv.Require(tb, "WATERSHED_TEST_S3_ACCESS_KEY", "S3 access key")
	e.secretKey = testenv.Require(tb, "WATERSHED_TEST_S3_SECRET_KEY", "S3 secret key")
	e.bucket = testenv.Require(tb, "WATERSHED_TEST_S3_BUCKET", "S3 bucket")
	e.region = os.Getenv("WATERSHED_TEST_S3_REGION")
	if e.region == "" {
		e.region = "us-east-1"
	}
	return e
}

// s3Bucket opens the test S3 bucket under a prefix of this test's own,
// with credentials in the AWS_* variables as an operator would set them,
// and deletes what the test wrote afterwards.
func s3Bucket(tb testing.TB) testBucket {
	tb.Helper()
	e := requireS3(tb)
	tb.Setenv("AWS_ACCESS_KEY_ID", e.accessKey)
	tb.Setenv("AWS_SECRET_ACCESS_KEY", e.secretKey)
	tb.Setenv("AWS_SESSION_TOKEN", "")
	prefix := "test-" + randomHex(6) + "/"
	q := url.Values{}
	q.Set("endpoint", e.endpoint)
	q.Set("region", e.region)
	q.Set("use_path_style", "true")
	q.Set("prefix", prefix)
	u := "s3://" + e.bucket + "?" + q.Encode()
	b, err := OpenBucket(context.Background(), u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx := context.Background()
		objs, _ := b.List(nil).All(ctx)
		for obj := range objs {
			_ = b.Delete(ctx, obj.Key)
		}
		_ = b.Close()
	})
	return testBucket{url: u, bucket: b}
}

// forEachBucket runs f against file:// and against the real S3-compatible
// server (skipped, or failed under CI, when there is none).
func forEachBucket(t *testing.T, f func(t *testing.T, tb testBucket)) {
	t.Run("file", func(t *testing.T) { f(t, fileBucket(t)) })
	t.Run("s3", func(t *testing.T) { f(t, s3Bucket(t)) })
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// record is one simulated Kafka record and what the pond must make of it.
type record struct {
	pos     Position
	msg     contracts.Message
	event   contracts.Event // zero for a message that does not decode
	valid   bool
	reading *events.MeterReading
}

// simulate returns n records over partitions, in the order one consumer
// would see them (partitions interleaved, offsets increasing with gaps):
// meter readings mostly, some missed-read events (another catalog type),
// some events of a type the catalog does not know (archived raw), and about
// 3% bad records (schema-invalid readings, undecodable messages). Event
// times cross a UTC midnight, so every partition's run is split in two
// date folders.
func simulate(tb testing.TB, seed uint64, n, partitions int, midnight time.Time) []record {
	tb.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 99))
	next := make([]int64, partitions)
	out := make([]record, 0, n)
	start := midnight.Add(-2 * time.Hour)
	for i := range n {
		p := rng.IntN(partitions)
		off := next[p]
		next[p] += 1 + int64(rng.IntN(10)/9) // an occasional gap, as compaction leaves
		at := start.Add(time.Duration(i) * 4 * time.Hour / time.Duration(n))
		pos := Position{Topic: "rapids", Partition: p, Offset: off, Time: at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)}
		meter := fmt.Sprintf("MTR-%06d", rng.IntN(500))
		r := record{pos: pos, valid: true}
		var typ string
		var data any
		switch x := rng.IntN(100); {
		case x < 3: // bad records
			if x == 0 {
				r.msg = contracts.Message{Key: []byte(meter), Value: []byte(`{"meter_id":`), Headers: []contracts.Header{{Key: contracts.HeaderType, Value: []byte("meter.reading.v1")}}}
				r.valid = false
				out = append(out, r)
				continue
			}
			typ, data = events.TypeMeterReading, map[string]any{
				"meter_id": meter, "transformer_id": "TX-1", "feeder_id": "FDR-1", "read_at": at.Format(time.RFC3339),
				"interval_s": 900, "energy_kwh_total": -1.5, "demand_kw": 1, "voltage_v": 230,
			}
			r.valid = false
		case x < 10:
			typ, data = events.TypeMeterReadingMissed, map[string]any{
				"meter_id": meter, "transformer_id": "TX-0042", "feeder_id": "FDR-07", "expected_at": at.Format(time.RFC3339),
				"interval_s": 900, "grace_s": 300, "consecutive_missed": 1 + rng.IntN(3), "detected_at": at.Add(5 * time.Minute).Format(time.RFC3339Nano),
			}
		case x < 14:
			typ, data = "lab.probe.v1", map[string]any{"probe": i, "note": "a type the catalog does not know"}
		default:
			mr := events.MeterReading{
				MeterID: meter, TransformerID: fmt.Sprintf("TX-%03d", rng.IntN(20)), FeederID: fmt.Sprintf("FDR-%02d", rng.IntN(4)),
				ReadAt: at.Truncate(15 * time.Minute), IntervalSeconds: 900,
				EnergyKWhTotal: math.Round(rng.Float64()*1e8) / 1e3, DemandKW: math.Round(rng.Float64()*8e3) / 1e3,
				VoltageVolts: 220 + math.Round(rng.Float64()*200)/10,
			}
			if rng.IntN(20) == 0 {
				mr.Flags = []string{"power_fail"}
			}
			r.reading = &mr
			typ, data = events.TypeMeterReading, mr
		}
		e, err := contracts.New("/services/meter-simulator", typ, data)
		if err != nil {
			tb.Fatal(err)
		}
		e.Time = at
		e.PartitionKey = meter
		e.ExpiryTime = at.Add(72 * time.Hour)
		if rng.IntN(4) == 0 {
			e.CorrelationID, e.CausationID, e.Hops, e.Participants = "corr-"+meter, "cause-1", 1, []string{"/services/mqtt-gateway"}
		}
		r.event = e
		if r.msg, err = contracts.EncodeBinary(e); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// fakeClock is the archiver's clock under test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// consumer plays a Kafka consumer group member feeding one Archiver: it
// reads each partition from its committed offset, dead-letters what the
// archiver refuses, flushes now and then and commits the watermarks.
type consumer struct {
	t           testing.TB
	a           *Archiver
	clock       *fakeClock
	rng         *mrand.Rand
	committed   map[int]int64 // partition -> next offset to read
	deadLetters map[int64]bool
}

// run feeds the records from the committed offsets on, stopping after
// limit records (a crash: the archiver is dropped with whatever it
// buffered) or at the end. It returns whether it reached the end.
func (c *consumer) run(ctx context.Context, recs []record, limit int) bool {
	c.t.Helper()
	fed := 0
	for _, r := range recs {
		if r.pos.Offset < c.committed[r.pos.Partition] {
			continue
		}
		if fed == limit {
			return false
		}
		fed++
		err := c.a.AddMessage(ctx, r.pos, r.msg)
		switch {
		case err == nil && !r.valid:
			c.t.Fatalf("record %d@%d is invalid, yet Add accepted it", r.pos.Partition, r.pos.Offset)
		case err != nil && r.valid:
			c.t.Fatalf("Add(%d@%d): %v", r.pos.Partition, r.pos.Offset, err)
		case err != nil:
			var ie *InvalidEventError
			if !errors.Is(err, ErrInvalidEvent) || !errors.As(err, &ie) || ie.Position != r.pos {
				c.t.Fatalf("Add(invalid %d@%d) = %v, want an *InvalidEventError at that position", r.pos.Partition, r.pos.Offset, err)
			}
			c.deadLetters[int64(r.pos.Partition)<<40|r.pos.Offset] = true
		}
		if c.rng.IntN(10) == 0 {
			c.clock.Advance(time.Duration(c.rng.IntN(20)) * time.Second)
			if err := c.a.FlushDue(ctx); err != nil {
				c.t.Fatal(err)
			}
		}
		if c.rng.IntN(7) == 0 {
			for _, w := range c.a.Watermarks() {
				if w.Next < c.committed[w.Partition] {
					c.t.Fatalf("watermark of partition %d went back: %d < %d", w.Partition, w.Next, c.committed[w.Partition])
				}
				c.committed[w.Partition] = w.Next
			}
		}
	}
	return true
}

// pondContents reads every object and returns the rows by position, and a
// digest of every object.
func pondContents(t testing.TB, b *blob.Bucket) (map[Position][]Row, map[string]string) {
	t.Helper()
	ctx := context.Background()
	objs, err := List(ctx, b, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[Position][]Row{}
	digests := map[string]string{}
	for _, o := range objs {
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		digests[o.Key] = hex.EncodeToString(sum[:])
		rs, err := decodeObject(o.Key, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 || rs[0].Offset != o.FirstOffset {
			t.Fatalf("%s: %d rows, want at least one starting at the name's offset %d", o.Key, len(rs), o.FirstOffset)
		}
		for _, r := range rs {
			if r.Event.Type != o.Type || r.Partition != o.Partition || r.Event.Time.UTC().Format(time.DateOnly) != o.Date {
				t.Fatalf("%s holds a row of another file: %s %d %v", o.Key, r.Event.Type, r.Partition, r.Event.Time)
			}
			p := Position{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
			rows[p] = append(rows[p], r)
		}
	}
	return rows, digests
}

// checkExactlyOnce checks that every valid record is in the pond exactly
// once, with its id and payload, and no invalid record is.
func checkExactlyOnce(t testing.TB, b *blob.Bucket, recs []record) map[string]string {
	t.Helper()
	rows, digests := pondContents(t, b)
	valid := 0
	for _, r := range recs {
		p := r.pos
		p.Time = time.Time{}
		got := rows[p]
		if !r.valid {
			if len(got) != 0 {
				t.Fatalf("invalid record %d@%d was archived", p.Partition, p.Offset)
			}
			continue
		}
		valid++
		if len(got) != 1 {
			t.Fatalf("record %d@%d is in the pond %d times, want once", p.Partition, p.Offset, len(got))
		}
		if got[0].Event.ID != r.event.ID {
			t.Fatalf("record %d@%d holds event %s, want %s", p.Partition, p.Offset, got[0].Event.ID, r.event.ID)
		}
		if r.reading != nil {
			var back events.MeterReading
			if err := json.Unmarshal(got[0].Event.Data, &back); err != nil || back.EnergyKWhTotal != r.reading.EnergyKWhTotal || back.MeterID != r.reading.MeterID {
				t.Fatalf("record %d@%d reading = %+v (%v), want %+v", p.Partition, p.Offset, back, err, *r.reading)
			}
		}
	}
	if len(rows) != valid {
		t.Fatalf("the pond holds %d positions, want the %d valid records", len(rows), valid)
	}
	return digests
}

// quiet is the archiver's logger in tests that replay on purpose.
var quiet = slog.New(slog.DiscardHandler)

func newRand(seed uint64) *mrand.Rand { return mrand.New(mrand.NewPCG(seed, seed)) }
