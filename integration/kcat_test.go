package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// kcatBin returns the kcat binary, or skips the test (fails under CI).
func kcatBin(t *testing.T, k *kafka) string {
	t.Helper()
	if k.Kcat == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(k.KcatWhy)
		}
		t.Skip(k.KcatWhy)
	}
	return k.Kcat
}

func runKcat(t *testing.T, bin, stdin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// kcatProduce produces one binary-mode CloudEvent with kcat (librdkafka):
// the attributes as ce_* headers, the data as the value, the partition key
// as the key.
func kcatProduce(t *testing.T, bin string, brokers []string, topic string, e contracts.Event) {
	t.Helper()
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-b", strings.Join(brokers, ","), "-P", "-t", topic, "-k", string(m.Key), "-z", "lz4", "-X", "partitioner=murmur2_random"}
	for _, h := range m.Headers {
		args = append(args, "-H", h.Key+"="+string(h.Value))
	}
	runKcat(t, bin, string(m.Value), args...)
}

// TestIntegrationKcat checks the wire contract with another Kafka client
// (kcat, librdkafka) on the real broker: a CloudEvent produced by kcat
// decodes with contracts and is booked by a rivers service, and one
// published by rapids is read back by kcat with its key and headers.
func TestIntegrationKcat(t *testing.T) {
	k := realKafka(t)
	bin := kcatBin(t, k)
	cfg := freshTopics(t, k.config(), 3)

	t.Run("KcatProducesRapidsDecodes", func(t *testing.T) {
		e := reading(t, meter(1), 1)
		e.CorrelationID = "corr-42"
		kcatProduce(t, bin, k.Brokers, cfg.Topics.Rapids, e)
		c, err := rapids.NewConsumer(cfg, unique("kcat"), []string{cfg.Topics.Rapids})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		r, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("fetching kcat's record: %v", err)
		}
		got, err := contracts.DecodeBinary(r.Message())
		if err != nil {
			t.Fatalf("kcat's record %s does not decode: %v", r, err)
		}
		if got.ID != e.ID || got.Source != e.Source || got.Type != e.Type || !got.Time.Equal(e.Time) ||
			!got.ExpiryTime.Equal(e.ExpiryTime) || got.CorrelationID != e.CorrelationID || got.PartitionKey != e.PartitionKey ||
			string(r.Key) != e.PartitionKey || !bytes.Equal(got.Data, e.Data) {
			t.Errorf("kcat's event decoded as %+v (key %q), want %+v", got, r.Key, e)
		}
		// librdkafka with murmur2_random (the Java client's partitioner)
		// and rapids put a key on the same partition.
		parts, err := rapids.TopicPartitions(ctx, cfg, cfg.Topics.Rapids)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int, parts[cfg.Topics.Rapids])
		for i := range ids {
			ids[i] = i
		}
		if want := rapids.JavaCompatibleBalancer().Balance(kafkago.Message{Key: r.Key}, ids...); r.Partition != want {
			t.Errorf("kcat put key %s on partition %d, rapids puts it on %d of %d", r.Key, r.Partition, want, len(ids))
		}
	})

	t.Run("RapidsProducesKcatReads", func(t *testing.T) {
		topic := cfg.Topics.Rivers
		e := reading(t, meter(2), 2)
		p, err := rapids.NewProducer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Publish(ctx, mustRecord(t, topic, e)); err != nil {
			t.Fatal(err)
		}
		out := runKcat(t, bin, "", "-b", strings.Join(k.Brokers, ","), "-C", "-t", topic, "-o", "beginning", "-c", "1", "-e", "-J")
		var rec struct {
			Key     string   `json:"key"`
			Payload string   `json:"payload"`
			Headers []string `json:"headers"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(out), &rec); err != nil {
			t.Fatalf("kcat -J output %q: %v", out, err)
		}
		m := contracts.Message{Key: []byte(rec.Key), Value: []byte(rec.Payload)}
		for i := 0; i+1 < len(rec.Headers); i += 2 {
			m.Headers = append(m.Headers, contracts.Header{Key: rec.Headers[i], Value: []byte(rec.Headers[i+1])})
		}
		got, err := contracts.DecodeBinary(m)
		if err != nil {
			t.Fatalf("the record kcat read (%s) does not decode: %v", out, err)
		}
		if got.ID != e.ID || got.Type != events.TypeMeterReading || rec.Key != e.PartitionKey || !bytes.Equal(got.Data, e.Data) {
			t.Errorf("kcat read %+v (key %q), want %+v", got, rec.Key, e)
		}
		if ct, ok := contracts.HeaderValue(m.Headers, "content-type"); !ok || string(ct) != "application/json" {
			t.Errorf("kcat saw content-type %q, want application/json", ct)
		}
	})

	t.Run("ServiceConsumesKcatEvent", func(t *testing.T) {
		svcCfg := freshTopics(t, k.config(), 1)
		l := newLedger()
		riverstest.ServeKafka(t, newLedgerService(t, svcCfg, unique("ledger"), "ledger-kcat", l, 0), svcCfg)
		e := reading(t, meter(3), 3)
		kcatProduce(t, bin, k.Brokers, svcCfg.Topics.Rapids, e)
		if missing := l.waitFor([]string{e.ID}, 60*time.Second); len(missing) > 0 {
			t.Fatalf("the service never booked kcat's event %s", e.ID)
		}
	})
}
