package rapids_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// Interop with a Kafka client nobody here wrote: Debian's kcat, on
// librdkafka. WATERSHED_TEST_KCAT is the path to kcat.

func kcat(t *testing.T, ctx context.Context, stdin string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, requireEnv(t, "WATERSHED_TEST_KCAT", "kcat"), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func TestKcatListsTopics(t *testing.T) {
	requireEnv(t, "WATERSHED_TEST_KCAT", "kcat")
	b := startBroker(t, "")
	out := kcat(t, testCtx(t), "", "-L", "-J", "-b", b.Addr())
	var meta struct {
		Topics []struct {
			Topic      string            `json:"topic"`
			Partitions []json.RawMessage `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &meta); err != nil {
		t.Fatalf("kcat -L -J: %v\n%s", err, out)
	}
	got := map[string]int{}
	for _, tp := range meta.Topics {
		got[tp.Topic] = len(tp.Partitions)
	}
	for topic, want := range map[string]int{"rapids": 6, "rivers": 3, "rapids.dlq": 3, "rivers.dlq": 3} {
		if got[topic] != want {
			t.Errorf("kcat -L: topic %s has %d partitions, want %d (all: %v)", topic, got[topic], want, got)
		}
	}
}

func TestKcatProducesRapidsDecodes(t *testing.T) {
	requireEnv(t, "WATERSHED_TEST_KCAT", "kcat")
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	at := time.Date(2026, 3, 1, 12, 15, 0, 0, time.UTC)
	// A binary-mode CloudEvent written by hand, as a non-Go service would.
	kcat(t, ctx, `meter-0042:{"meter_id":"meter-0042","voltage_v":229.8}`+"\n",
		"-P", "-b", b.Addr(), "-t", "rapids", "-K:",
		"-H", "ce_specversion=1.0",
		"-H", "ce_id=kcat-0001",
		"-H", "ce_source=/services/kcat",
		"-H", "ce_type=meter.reading.v1",
		"-H", "ce_time="+at.Format(time.RFC3339),
		"-H", "ce_expirytime="+at.Add(time.Hour).Format(time.RFC3339),
		"-H", "content-type=application/json",
		"-H", "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")

	c := newConsumer(t, ctx, cfg, "kcat-interop", "rapids")
	r, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, err := contracts.DecodeBinary(r.Message())
	if err != nil {
		t.Fatalf("rapids cannot decode kcat's event: %v", err)
	}
	if e.ID != "kcat-0001" || e.Source != "/services/kcat" || e.Type != "meter.reading.v1" || !e.Time.Equal(at) ||
		!e.ExpiryTime.Equal(at.Add(time.Hour)) || e.PartitionKey != "meter-0042" ||
		string(e.Data) != `{"meter_id":"meter-0042","voltage_v":229.8}` {
		t.Errorf("decoded %+v", e)
	}
	if tp, _ := contracts.HeaderValue(r.Headers, "traceparent"); !strings.HasPrefix(string(tp), "00-4bf92f") {
		t.Errorf("traceparent header lost: %q", tp)
	}
}

type kcatRecord struct {
	Topic     string   `json:"topic"`
	Partition int      `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       *string  `json:"key"`
	Payload   string   `json:"payload"`
	Headers   []string `json:"headers"` // name, value, name, value, ...
}

func kcatConsume(t *testing.T, ctx context.Context, addr, topic string) []kcatRecord {
	t.Helper()
	out := kcat(t, ctx, "", "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	var recs []kcatRecord
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r kcatRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("kcat -J line %s: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestRapidsProducesKcatReads(t *testing.T) {
	requireEnv(t, "WATERSHED_TEST_KCAT", "kcat")
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			b := startBroker(t, "")
			ctx := testCtx(t)
			cfg := testConfig(b)
			cfg.Compression = codec
			e, err := contracts.New("/services/meter-simulator", "meter.reading.v1", map[string]any{"meter_id": "meter-7"})
			if err != nil {
				t.Fatal(err)
			}
			e.PartitionKey = "meter-7"
			e.CausationID = "cause-1"
			rec, err := rapids.NewRecord("rivers", e)
			if err != nil {
				t.Fatal(err)
			}
			if err := newProducer(t, cfg).Publish(ctx, rec); err != nil {
				t.Fatal(err)
			}
			recs := kcatConsume(t, ctx, b.Addr(), "rivers")
			if len(recs) != 1 {
				t.Fatalf("kcat read %d records, want 1: %+v", len(recs), recs)
			}
			got := recs[0]
			if got.Key == nil || *got.Key != "meter-7" || got.Payload != string(e.Data) {
				t.Errorf("kcat read key %v payload %q", got.Key, got.Payload)
			}
			headers := map[string]string{}
			for i := 0; i+1 < len(got.Headers); i += 2 {
				headers[got.Headers[i]] = got.Headers[i+1]
			}
			for _, h := range rec.Headers {
				if headers[h.Key] != string(h.Value) {
					t.Errorf("kcat read header %s = %q, want %q", h.Key, headers[h.Key], h.Value)
				}
			}
			if len(headers) != len(rec.Headers) {
				t.Errorf("kcat read %d headers, want %d", len(headers), len(rec.Headers))
			}
		})
	}
}

// TestPartitionerMatchesLibrdkafka publishes the same keys with kcat
// (librdkafka's murmur2_random, documented as the Java partitioner) and with
// rapids, and checks each key lands on the same partition.
func TestPartitionerMatchesLibrdkafka(t *testing.T) {
	requireEnv(t, "WATERSHED_TEST_KCAT", "kcat")
	b := startBroker(t, "")
	ctx := testCtx(t)
	cfg := testConfig(b)
	for _, name := range []string{"by-kcat", "by-rapids"} {
		createTopic(t, ctx, cfg, rapids.TopicSpec{Name: name, Partitions: 7})
	}
	var lines strings.Builder
	var recs []rapids.Record
	for i := range 200 {
		key := fmt.Sprintf("meter-%05d", i*7919)
		fmt.Fprintf(&lines, "%s:{}\n", key)
		recs = append(recs, rapids.Record{Topic: "by-rapids", Key: []byte(key), Value: []byte("{}")})
	}
	kcat(t, ctx, lines.String(), "-P", "-b", b.Addr(), "-t", "by-kcat", "-K:", "-X", "partitioner=murmur2_random")
	if err := newProducer(t, cfg).Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	partitionOf := func(topic string) map[string]int {
		m := map[string]int{}
		for _, r := range kcatConsume(t, ctx, b.Addr(), topic) {
			m[*r.Key] = r.Partition
		}
		return m
	}
	byKcat, byRapids := partitionOf("by-kcat"), partitionOf("by-rapids")
	if len(byKcat) != 200 || len(byRapids) != 200 {
		t.Fatalf("read %d keys written by kcat and %d by rapids, want 200 each", len(byKcat), len(byRapids))
	}
	used := map[int]bool{}
	for k, p := range byKcat {
		used[p] = true
		if byRapids[k] != p {
			t.Errorf("key %s: librdkafka chose partition %d, rapids %d", k, p, byRapids[k])
		}
	}
	if len(used) != 7 {
		t.Errorf("200 keys used %d of 7 partitions", len(used))
	}
}
