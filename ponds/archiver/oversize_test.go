package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// oversizeValue is near the largest value the producer (1 MiB records) and
// the brokers accept with a few ce_ headers: the record fits, its dead
// letter (the record plus ~400 bytes of dlq_ headers) does not.
const oversizeValue = 1_048_400

// TestOversizeRecordIsDeadLetteredOnce puts a 1,048,400-byte invalid
// reading between valid ones. The archiver must not stall on it (it used
// to start over from the committed offsets forever: 55 restarts in 20s): it archives every
// valid reading, commits to the end, and writes exactly one letter for the
// big record, without its value but with its size, SHA-256 and origin.
func TestOversizeRecordIsDeadLetteredOnce(t *testing.T) {
	brokers := map[string]func(*testing.T) rapids.Config{
		"embedded": func(t *testing.T) rapids.Config { return startBroker(t) },
		"kafka": func(t *testing.T) rapids.Config {
			addr := requireEnv(t, "WATERSHED_TEST_KAFKA")
			suffix := "-" + randomHex(4)
			cfg := rapids.Config{Brokers: []string{addr},
				Topics: rapids.Topics{Rapids: "rapids-oversize" + suffix, Rivers: "rivers-oversize" + suffix}}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := rapids.EnsureTopics(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			return cfg
		},
	}
	for name, broker := range brokers {
		t.Run(name, func(t *testing.T) {
			kcfg := broker(t)
			topic := kcfg.Topics.Rapids
			if topic == "" {
				topic = "rapids"
			}
			p := filePond(t)
			recs, want := readings(t, topic, 60)
			big := bytes.Repeat([]byte("x"), oversizeValue)
			copy(big, `{"meter_id":"`)
			bigRec := rapids.Record{Topic: topic, Key: []byte("MTR-000"), Value: big, Headers: []contracts.Header{
				{Key: contracts.HeaderSpecVersion, Value: []byte("1.0")},
				{Key: contracts.HeaderID, Value: []byte("big-1")},
				{Key: contracts.HeaderSource, Value: []byte("/meters/MTR-000")},
				{Key: contracts.HeaderType, Value: []byte(events.TypeMeterReading)},
				{Key: contracts.HeaderContentType, Value: []byte("application/json")},
			}}
			produce(t, kcfg, recs[:30]...)
			produce(t, kcfg, bigRec)
			produce(t, kcfg, recs[30:]...)
			ends := endOffsets(t, kcfg, topic, len(recs)+1)

			group := "raw-archiver-oversize-" + randomHex(3)
			svc := newService(t, kcfg, group)
			a, err := New(svc, testConfig(p.url, rivers.Rapids, 20))
			if err != nil {
				t.Fatal(err)
			}
			run := riverstest.ServeKafka(t, svc, kcfg)
			waitFor(t, "the archiver to commit past the oversize record", 90*time.Second, func() bool { return caughtUp(a, ends) })
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			// A restart in the same group starts past the big record: no
			// second letter (there was one per restart, forever).
			more, moreWant := readings(t, topic, 67)
			produce(t, kcfg, more[60:]...)
			want = append(want, moreWant[60:]...)
			ends = endOffsets(t, kcfg, topic, len(recs)+1+7)
			svc2 := newService(t, kcfg, group)
			a2, err := New(svc2, testConfig(p.url, rivers.Rapids, 20))
			if err != nil {
				t.Fatal(err)
			}
			run2 := riverstest.ServeKafka(t, svc2, kcfg)
			waitFor(t, "the restarted archiver to commit the new records", 90*time.Second, func() bool { return caughtUp(a2, ends) })
			if err := run2.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := a2.Close(context.Background()); err != nil {
				t.Fatal(err)
			}

			seen, _ := pondRows(t, p.bucket, topic)
			for _, r := range want {
				if seen[r.id] != 1 {
					t.Errorf("reading %s is in the pond %d times, want once", r.id, seen[r.id])
				}
			}

			dl := readAll(t, kcfg, rapids.DLQ(topic))
			if len(dl) != 1 {
				t.Fatalf("%d dead letters, want 1", len(dl))
			}
			d, err := rivers.ParseDeadLetter(rivers.Record(dl[0]))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(big)
			if d.Omitted != "value" || len(d.Message.Value) != 0 || d.PayloadBytes != oversizeValue ||
				d.PayloadSHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("letter omitted %q, value %d bytes, payload %d bytes sha256 %s; want the value left out and described",
					d.Omitted, len(d.Message.Value), d.PayloadBytes, d.PayloadSHA256)
			}
			isBig := func(r rivers.Record) bool {
				id, _ := contracts.HeaderValue(r.Headers, contracts.HeaderID)
				return string(id) == "big-1"
			}
			// Read until the big record shows: the topic holds more records
			// than the first batch by now, over several partitions.
			src := riverstest.Consume(t, kcfg, topic, func(rs []rivers.Record) bool { return slices.ContainsFunc(rs, isBig) }, 30*time.Second)
			found := false
			for _, r := range src {
				if isBig(r) {
					found = r.Partition == d.OriginPartition && r.Offset == d.OriginOffset
				}
			}
			if d.OriginTopic != topic || !found {
				t.Errorf("origin %s/%d@%d is not where the big record is", d.OriginTopic, d.OriginPartition, d.OriginOffset)
			}
			if id, _ := contracts.HeaderValue(d.Message.Headers, contracts.HeaderID); string(id) != "big-1" {
				t.Errorf("letter ce_id %q, want big-1", id)
			}
		})
	}
}

// readAll returns every record of topic up to its end offsets now.
func readAll(t *testing.T, cfg rapids.Config, topic string) []rapids.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ranges, err := rapids.Ranges(ctx, cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []rapids.Record
	if err := rapids.ReadRanges(ctx, cfg, ranges, 0, func(r rapids.Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}
