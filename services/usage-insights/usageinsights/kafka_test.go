package usageinsights

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestOnKafka runs the service on a Kafka broker — the embedded one always,
// and the real Kafka of the integration suite when WATERSHED_TEST_KAFKA is
// set — with its days in the real Redis, and sends it a meter's days on the
// rivers topic: the same path they take in production. The unusual day
// comes out on the rivers with its (meter, day) id.
func TestOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker: skipped with -short")
	}
	url := riverstest.RequireServer(t, riverstest.EnvRedis, "Redis")
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			prefix := "ws:test-" + contracts.NewID()[:8] + ":insights:"
			t.Cleanup(func() {
				if keys, _ := client.Keys(context.Background(), prefix+"*").Result(); len(keys) > 0 {
					client.Del(context.Background(), keys...)
				}
			})
			svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error", Kafka: k.Kafka})
			if err != nil {
				t.Fatal(err)
			}
			if err := Register(svc, Config{Store: NewRedisStore(client, prefix)}); err != nil {
				t.Fatal(err)
			}
			riverstest.ServeKafka(t, svc, k.Kafka)
			var recs []rivers.Record
			for n, kwh := range []float64{10, 11, 9, 10, 35, 10} {
				u := usageDay("M1", "TX1", n, kwh, 96)
				e, err := contracts.New(riverstest.Source, events.TypeUsageInterval, u)
				if err != nil {
					t.Fatal(err)
				}
				e.PartitionKey = u.MeterID
				m, err := contracts.EncodeBinary(e)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rivers.Record{Topic: k.Kafka.Topics.Rivers, Key: m.Key, Value: m.Value, Headers: m.Headers})
			}
			riverstest.Produce(t, k.Kafka, recs...)
			out := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeUsageUnusual, 1), 60*time.Second)
			var found int
			for _, r := range out {
				e, err := contracts.DecodeBinary(r.Message())
				if err != nil || e.Type != events.TypeUsageUnusual {
					continue
				}
				found++
				var u events.UsageUnusual
				if err := json.Unmarshal(e.Data, &u); err != nil {
					t.Fatal(err)
				}
				if string(r.Key) != "M1" || u.EnergyKWh != 35 || u.BaselineKWh != 10 || e.ID != unusualID("M1", Day{Start: u.Start}) {
					t.Errorf("usage.unusual.v1 %+v, key %q, id %q", u, r.Key, e.ID)
				}
			}
			if found != 1 {
				t.Fatalf("%d usage.unusual.v1 on the rivers, want 1", found)
			}
			// The days are in Redis, where the API reads them.
			if _, days, err := NewRedisStore(client, prefix).Meter(context.Background(), "M1"); err != nil || len(days) != 6 || !days[4].Unusual {
				t.Errorf("Redis holds %+v (%v)", days, err)
			}
		})
	}
}
