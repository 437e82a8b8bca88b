package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/dlq-replayer/dlq"
)

// TestDeadLettersListedAndReplayedOnce: a consumer that is broken for a
// while dead-letters two events; the letters are listed, replayed once,
// handled once — and replaying them again changes nothing downstream,
// because the replayed events keep their ids.
func TestDeadLettersListedAndReplayedOnce(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var broken atomic.Bool
			broken.Store(true)
			var mu sync.Mutex
			handled := map[string]int{}
			svc, err := rivers.NewService(rivers.Config{Name: "usage-reader", Version: "1.0.0", Instance: "ur-1", Kafka: k.Kafka,
				HTTPAddr: "off", LogLevel: "error", HeartbeatInterval: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			svc.Handle(rivers.NewRiver(events.TypeUsageInterval).Named("usage").Require("meter_id"),
				func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
					if broken.Load() {
						return rivers.Permanent(errors.New("tariff table missing"))
					}
					mu.Lock()
					handled[ev.ID()]++
					mu.Unlock()
					return nil
				})
			riverstest.ServeKafka(t, svc, k.Kafka)

			data, err := os.ReadFile("../../../contracts/examples/usage.interval.v1.json")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			var recs []rivers.Record
			for range 2 {
				ev, err := contracts.New("/services/usage-aggregator", events.TypeUsageInterval, json.RawMessage(data))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, ev.ID)
				r, err := rapids.NewRecord(k.Kafka.Topics.Rivers, ev)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rivers.Record(r))
			}
			riverstest.Produce(t, k.Kafka, recs...)
			dlqTopic := rapids.DLQ(k.Kafka.Topics.Rivers)
			riverstest.Consume(t, k.Kafka, dlqTopic, riverstest.Count(events.TypeUsageInterval, 2), 30*time.Second)

			// ls: both listed, counted by origin, type and class
			letters, err := dlq.Read(ctx, k.Kafka, []string{dlqTopic}, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			sum := dlq.Summarize(letters)
			if len(sum) != 1 || sum[0].Letters != 2 || sum[0].ErrorClass != rivers.ClassPermanent || sum[0].Origin != k.Kafka.Topics.Rivers {
				t.Fatalf("summary: %+v", sum)
			}
			// the service's summary says the same
			reporter, err := rivers.NewService(rivers.Config{Name: dlq.Name, Version: "1.0.0", Kafka: k.Kafka, HTTPAddr: "off", LogLevel: "error"})
			if err != nil {
				t.Fatal(err)
			}
			if err := dlq.Register(reporter, dlq.Config{Topics: []string{dlqTopic}, ReadIdle: time.Second}); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			reporter.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/dlq", nil))
			var s dlq.Summary
			if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || s.Letters != 2 {
				t.Fatalf("/v1/dlq: %v %s", err, rec.Body)
			}

			// fixed: replay once
			broken.Store(false)
			p, err := rapids.NewProducer(k.Kafka)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			plan := dlq.PlanReplay(letters, dlq.Filter{Type: events.TypeUsageInterval, Error: "tariff"}, 0)
			if n, err := dlq.Replay(ctx, p, plan); err != nil || n != 2 {
				t.Fatalf("replayed %d: %v", n, err)
			}
			waitHandled := func() map[string]int {
				deadline := time.Now().Add(30 * time.Second)
				for {
					mu.Lock()
					n := len(handled)
					mu.Unlock()
					if n == 2 || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				mu.Lock()
				defer mu.Unlock()
				out := map[string]int{}
				for id, n := range handled {
					out[id] = n
				}
				return out
			}
			got := waitHandled()
			for _, id := range ids {
				if got[id] != 1 {
					t.Fatalf("event %s handled %d times after the replay, want 1 (%v)", id, got[id], got)
				}
			}

			// replaying the same letters again is idempotent downstream
			if n, err := dlq.Replay(ctx, p, plan); err != nil || n != 2 {
				t.Fatalf("second replay %d: %v", n, err)
			}
			riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeUsageInterval, 6), 30*time.Second)
			deadline := time.Now().Add(30 * time.Second)
			for svc.Heartbeat(ctx).LagRecords > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if handled[id] != 1 {
					t.Fatalf("event %s handled %d times after a second replay, want 1", id, handled[id])
				}
			}
		})
	}
}
