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

// TestSkewedSourceIsFlagged: three sources publish on the rapids; one
// stamps its events two minutes behind. Only that one gets
// system.clock.skew.v1.
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

			offsets := map[string]time.Duration{"/meters/A": 0, "/meters/B": 2 * time.Second, "/meters/C": -2 * time.Minute}
			var recs []rivers.Record
			for i := range 5 {
				for src, off := range offsets {
					ev, err := contracts.New(src, "test.tick.v1", map[string]int{"n": i})
					if err != nil {
						t.Fatal(err)
					}
					ev.Time = time.Now().Add(off).UTC()
					msg, err := contracts.EncodeBinary(ev)
					if err != nil {
						t.Fatal(err)
					}
					recs = append(recs, rivers.Record{Topic: k.Kafka.Topics.Rapids, Key: msg.Key, Value: msg.Value, Headers: msg.Headers})
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
