package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/dlq-replayer/dlq"
)

// deadLetter builds a record as the rivers SDK dead-letters it.
func deadLetter(t *testing.T, topic, typ, class, msg string) (rivers.Record, string) {
	t.Helper()
	data, err := os.ReadFile("../../contracts/examples/" + typ + ".json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := contracts.New("/services/test", typ, json.RawMessage(data))
	if err != nil {
		t.Fatal(err)
	}
	m, err := contracts.EncodeBinary(ev)
	if err != nil {
		t.Fatal(err)
	}
	hs := append(m.Headers,
		contracts.Header{Key: rivers.HeaderDLQOriginTopic, Value: []byte(topic)},
		contracts.Header{Key: rivers.HeaderDLQErrorClass, Value: []byte(class)},
		contracts.Header{Key: rivers.HeaderDLQError, Value: []byte(msg)},
		contracts.Header{Key: rivers.HeaderDLQService, Value: []byte("usage-reader")},
		contracts.Header{Key: rivers.HeaderDLQTime, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))})
	return rivers.Record{Topic: topic + ".dlq", Key: m.Key, Value: m.Value, Headers: hs}, ev.ID
}

func TestDLQLsShowReplay(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			t.Setenv("KAFKA_TOPIC_RIVERS", k.Kafka.Topics.Rivers)
			t.Setenv("KAFKA_TOPIC_RAPIDS", k.Kafka.Topics.Rapids)
			brokers := "--brokers=" + strings.Join(k.Kafka.Brokers, ",")
			rivTopic := k.Kafka.Topics.Rivers
			r1, id1 := deadLetter(t, rivTopic, events.TypeUsageInterval, rivers.ClassPermanent, "tariff table missing")
			r2, _ := deadLetter(t, rivTopic, events.TypeUsageInterval, rivers.ClassSchema, "missing energy_kwh")
			r3, _ := deadLetter(t, rivTopic, events.TypeFeederLoad, rivers.ClassPermanent, "feeder unknown")
			riverstest.Produce(t, k.Kafka, r1, r2, r3)

			out, err := runCLI(t, "dlq", "ls", brokers, "--idle=1s")
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"usage.interval.v1  permanent", "usage.interval.v1  schema", "feeder.load.v1     permanent", "3 dead letter(s)"} {
				if !strings.Contains(out, want) {
					t.Fatalf("ls: no %q in\n%s", want, out)
				}
			}
			out, err = runCLI(t, "dlq", "show", brokers, "--idle=1s", "--type", events.TypeUsageInterval, "--error", "tariff")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, id1) || !strings.Contains(out, "permanent: tariff table missing") || !strings.Contains(out, "1 dead letter(s)") {
				t.Fatalf("show:\n%s", out)
			}

			out, err = runCLI(t, "dlq", "replay", brokers, "--idle=1s", "--error", "permanent", "--type", events.TypeUsageInterval)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "replayed 1, skipped 0") {
				t.Fatalf("replay:\n%s", out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			back, err := dlq.Read(ctx, k.Kafka, []string{rivTopic}, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != 1 || back[0].ID != id1 || back[0].Replays != 1 {
				t.Fatalf("origin topic after replay: %+v", back)
			}
			if _, err := runCLI(t, "dlq", "ls", brokers, "--since", "yesterday"); err == nil || !strings.Contains(err.Error(), "--since") {
				t.Fatalf("bad --since accepted: %v", err)
			}
		})
	}
}
