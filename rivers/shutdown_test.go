package rivers_test

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestKafkaShutdownDuringBurst stops a service with SIGTERM in the middle of
// a burst, then starts a second instance of it in the same group: nothing
// is lost, every handled event's publication is on the rivers, and what is
// handled twice is at most what the first instance had not committed.
func TestKafkaShutdownDuringBurst(t *testing.T) {
	burst := 1500
	if raceEnabled {
		burst = 400
	}
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			cfg := testConfig("burst-watch")
			cfg.Kafka = k.Kafka
			cfg.SkipEnsureTopics = true
			first, w1 := newVoltageWatch(t, cfg)
			first.Use(func(next rivers.Handler) rivers.Handler {
				return func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
					time.Sleep(200 * time.Microsecond)
					return next(ctx, ev, pub)
				}
			})
			ran := make(chan error, 1)
			go func() { ran <- first.Run(context.Background()) }()
			waitReady(t, first)

			var recs []rivers.Record
			ids := map[string]bool{}
			for i := range burst {
				e := newReading(t, "MTR-"+strconv.Itoa(i%50), 180)
				ids[e.ID] = true
				recs = append(recs, record(t, k.Kafka.Topics.Rapids, e))
			}
			riverstest.Produce(t, k.Kafka, recs...)
			for len(w1.seen()) < burst/4 {
				time.Sleep(time.Millisecond)
			}
			if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-ran:
				if err != nil {
					t.Fatalf("Run after SIGTERM: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after SIGTERM")
			}
			handled1 := w1.seen()
			committed := committedOffset(t, k.Kafka, cfg.Name, k.Kafka.Topics.Rapids)
			if len(handled1) >= burst {
				t.Fatalf("the first instance handled the whole burst (%d) before SIGTERM: make the burst longer", len(handled1))
			}
			tail := int64(len(handled1)) - committed
			start2 := time.Now()
			t.Logf("first instance: handled %d of %d, committed offset %d (uncommitted tail %d)", len(handled1), burst, committed, tail)

			second, w2 := newVoltageWatch(t, cfg)
			riverstest.ServeKafka(t, second, k.Kafka)
			deadline := time.Now().Add(60 * time.Second)
			for len(w2.seen())+len(handled1) < burst && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("second instance done after %s", time.Since(start2))
			time.Sleep(200 * time.Millisecond) // let any extra redelivery show
			all := map[string]int{}
			for _, id := range append(handled1, w2.seen()...) {
				all[id]++
			}
			for id := range ids {
				if all[id] == 0 {
					t.Fatalf("event %s was never handled: lost", id)
				}
			}
			dups := int64(len(handled1)+len(w2.seen())) - int64(burst)
			if dups > tail {
				t.Errorf("%d events handled twice, more than the %d uncommitted at shutdown", dups, tail)
			}
			c0 := time.Now()
			out := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers,
				riverstest.Count(events.TypeMeterReadingAnomalous, burst), 30*time.Second)
			t.Logf("consumed the rivers in %s", time.Since(c0))
			if n := riverstest.Count(events.TypeMeterReadingAnomalous, burst)(out); !n {
				t.Errorf("fewer than %d anomalies published: publications were lost at shutdown", burst)
			}
			stopping := riverstest.Count(events.TypeServiceStopping, 1)(out)
			if !stopping {
				t.Error("no system.service.stopping.v1 published at shutdown")
			}
		})
	}
}

func waitReady(t *testing.T, svc *rivers.Service) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for svc.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30s: %v", svc.Ready(context.Background()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// committedOffset asks the broker for group's committed offset on
// partition 0 of topic.
func committedOffset(t *testing.T, cfg rapids.Config, group, topic string) int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics[topic] {
		if p.Partition == 0 {
			return max(p.CommittedOffset, 0)
		}
	}
	return 0
}
