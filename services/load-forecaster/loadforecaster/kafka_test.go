package loadforecaster

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

func redisClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(riverstest.RequireServer(t, riverstest.EnvRedis, "Redis"))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	prefix := "ws:test-" + contracts.NewID()[:8] + ":forecast:"
	t.Cleanup(func() {
		if keys, _ := c.Keys(context.Background(), prefix+"*").Result(); len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
		_ = c.Close()
	})
	return c, prefix
}

func TestIntegrationRedisStore(t *testing.T) {
	c, prefix := redisClient(t)
	testStore(t, NewRedisStore(c, prefix))
}

// TestOnKafka runs the service on a Kafka broker — the embedded one always,
// and the real Kafka of the integration suite when WATERSHED_TEST_KAFKA is
// set — with its history in the real Redis, and sends it 25 hours of a
// feeder's windows on the rivers topic: hours 23 and 24 close with a day of
// history, and each model's forecasts come out on the rivers with their
// (feeder, model, hour) ids.
func TestOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker: skipped with -short")
	}
	c, prefix := redisClient(t)
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error", Kafka: k.Kafka})
			if err != nil {
				t.Fatal(err)
			}
			if err := Register(svc, Config{Store: NewRedisStore(c, prefix+k.Name+":")}); err != nil {
				t.Fatal(err)
			}
			riverstest.ServeKafka(t, svc, k.Kafka)
			var recs []rivers.Record
			for q := range 25 * 4 {
				st := t0.Add(time.Duration(q) * 15 * time.Minute)
				e, err := contracts.New(riverstest.Source, events.TypeFeederLoad, feederWindow("FDR-1", st, shape(st)))
				if err != nil {
					t.Fatal(err)
				}
				e.PartitionKey = "FDR-1"
				m, err := contracts.EncodeBinary(e)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rivers.Record{Topic: k.Kafka.Topics.Rivers, Key: m.Key, Value: m.Value, Headers: m.Headers})
			}
			riverstest.Produce(t, k.Kafka, recs...)
			out := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeFeederLoadForecast, 4), 60*time.Second)
			ids := map[string]bool{}
			for _, r := range out {
				e, err := contracts.DecodeBinary(r.Message())
				if err != nil || e.Type != events.TypeFeederLoadForecast {
					continue
				}
				var f events.FeederLoadForecast
				if err := json.Unmarshal(e.Data, &f); err != nil {
					t.Fatal(err)
				}
				ids[e.ID] = true
				if string(r.Key) != "FDR-1" || e.ID != forecastID("FDR-1", f.Model, f.IssuedAt.Unix()) || len(f.Points) != Horizon {
					t.Errorf("forecast %s key %q id %q, %d points", f.Model, r.Key, e.ID, len(f.Points))
				}
			}
			for _, m := range Models {
				for _, h := range []time.Duration{24, 25} {
					if id := forecastID("FDR-1", m, t0.Add(h*time.Hour).Unix()); !ids[id] {
						t.Errorf("no forecast %s on the rivers (have %v)", id, ids)
					}
				}
			}
		})
	}
}
