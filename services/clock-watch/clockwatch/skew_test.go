package clockwatch_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/clock-watch/clockwatch"
)

// TestSkewedSourceIsFlagged: four sources publish on the rapids over 25s
// of record time; one stamps its events two minutes behind, one is
// watershed dev's simulator, whose grid clock runs 600 times the wall
// clock's. Only the skewed one gets system.clock.skew.v1.
func TestSkewedSourceIsFlagged(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			svc, err := rivers.NewService(rivers.Config{Name: clockwatch.Name, Version: "1.0.0", Instance: "cw-1",
				Kafka: k.Kafka, HTTPAddr: "off", LogLevel: "error", HeartbeatInterval: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			cfg := clockwatch.DefaultConfig()
			cfg.Threshold, cfg.Window, cfg.MinSamples = 10*time.Second, 5, 3
			if err := clockwatch.Register(svc, cfg); err != nil {
				t.Fatal(err)
			}
			riverstest.ServeKafka(t, svc, k.Kafka)

			t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
			stamps := map[string]func(rec time.Time) time.Time{
				"/meters/A":                 func(rec time.Time) time.Time { return rec },
				"/meters/B":                 func(rec time.Time) time.Time { return rec.Add(2 * time.Second) },
				"/meters/C":                 func(rec time.Time) time.Time { return rec.Add(-2 * time.Minute) },
				"/services/meter-simulator": func(rec time.Time) time.Time { return t0.Add(-3*time.Hour + 600*rec.Sub(t0)) },
			}
			var recs []rivers.Record
			for i := range 25 {
				rec := t0.Add(time.Duration(i) * time.Second) // the producer's record timestamp (CreateTime)
				for src, stamp := range stamps {
					ev, err := contracts.New(src, "test.tick.v1", map[string]int{"n": i})
					if err != nil {
						t.Fatal(err)
					}
					ev.Time = stamp(rec).UTC()
					msg, err := contracts.EncodeBinary(ev)
					if err != nil {
						t.Fatal(err)
					}
					recs = append(recs, rivers.Record{Topic: k.Kafka.Topics.Rapids, Key: msg.Key, Value: msg.Value, Headers: msg.Headers, Time: rec})
				}
			}
			riverstest.Produce(t, k.Kafka, recs...)

			got := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeClockSkew, 2), 4*time.Second)
			var flagged []events.ClockSkew
			for _, r := range got {
				if v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType); string(v) != events.TypeClockSkew {
					continue
				}
				ev, err := contracts.DecodeBinary(r.Message())
				if err != nil {
					t.Fatal(err)
				}
				var s events.ClockSkew
				if err := json.Unmarshal(ev.Data, &s); err != nil {
					t.Fatal(err)
				}
				flagged = append(flagged, s)
			}
			if len(flagged) != 1 || flagged[0].Source != "/meters/C" {
				t.Fatalf("want exactly /meters/C flagged, got %+v", flagged)
			}
			if off := flagged[0].OffsetSeconds; off > -100 || off < -140 {
				t.Fatalf("offset of /meters/C = %vs, want about -120s", off)
			}
			if flagged[0].Samples < cfg.MinSamples || flagged[0].ThresholdSeconds != 10 {
				t.Fatalf("skew event: %+v", flagged[0])
			}
		})
	}
}
