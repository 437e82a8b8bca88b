package billingestimator

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestOnKafka runs two versions of the estimator on a Kafka broker — the
// embedded one always, and the real Kafka of the integration suite when
// WATERSHED_TEST_KAFKA is set — and sends them a meter's reads around a
// missed one, and the missed read: both answer the need, and the asker
// publishes the estimate.
func TestOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker: skipped with -short")
	}
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			var svcs []*rivers.Service
			for _, v := range []struct {
				version, method string
				ask             bool
			}{{"v1", MethodInterpolation, true}, {"v2", MethodProfile, false}} {
				svc, err := rivers.NewService(rivers.Config{Name: Name, Version: v.version, Instance: Name + "-" + v.version,
					Group: Name + "-" + v.version, HTTPAddr: "off", LogLevel: "error", Kafka: k.Kafka})
				if err != nil {
					t.Fatal(err)
				}
				ask := v.ask
				if err := Register(svc, Config{Method: v.method, Ask: &ask, Deadline: time.Minute, Expect: 2}); err != nil {
					t.Fatal(err)
				}
				svcs = append(svcs, svc)
			}
			for _, svc := range svcs {
				riverstest.ServeKafka(t, svc, k.Kafka)
			}
			record := func(topic, typ string, data any, key string) rivers.Record {
				e, err := contracts.New(riverstest.Source, typ, data)
				if err != nil {
					t.Fatal(err)
				}
				e.PartitionKey = key
				e.ExpiryTime = time.Now().Add(time.Hour)
				m, err := contracts.EncodeBinary(e)
				if err != nil {
					t.Fatal(err)
				}
				return rivers.Record{Topic: topic, Key: m.Key, Value: m.Value, Headers: m.Headers}
			}
			gap := day0.Add(10 * time.Hour)
			var recs []rivers.Record
			for at := gap.Add(-2 * time.Hour); !at.After(gap.Add(time.Hour)); at = at.Add(interval) {
				if !at.Equal(gap) {
					recs = append(recs, record(k.Kafka.Topics.Rapids, events.TypeMeterReading, reading("MTR-1", at), "MTR-1"))
				}
			}
			riverstest.Produce(t, k.Kafka, recs...)
			riverstest.WaitFor(t, 30*time.Second, "the reads handled by both versions", func() bool {
				for _, svc := range svcs {
					if riverstest.Metric(t, svc, rivers.MetricEventsIn, "river", "meter-reading") < float64(len(recs)) {
						return false
					}
				}
				return true
			})
			last := gap.Add(-interval)
			riverstest.Produce(t, k.Kafka, record(k.Kafka.Topics.Rivers, events.TypeMeterReadingMissed, events.MeterReadingMissed{
				MeterID: "MTR-1", TransformerID: "TX-1", FeederID: "FDR-1", ExpectedAt: gap, IntervalSeconds: 900, GraceSeconds: 1800,
				ConsecutiveMissed: 1, DetectedAt: gap.Add(30 * time.Minute), LastReadAt: last, LastEnergyKWhTotal: ptr(register(last))}, "MTR-1"))
			out := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeMeterReadingEstimated, 1), 60*time.Second)
			var est []events.MeterReadingEstimated
			solvers := map[string]bool{}
			for _, r := range out {
				e, err := contracts.DecodeBinary(r.Message())
				if err != nil {
					continue
				}
				switch e.Type {
				case events.TypeMeterReadingEstimated:
					var v events.MeterReadingEstimated
					if err := json.Unmarshal(e.Data, &v); err != nil {
						t.Fatal(err)
					}
					est = append(est, v)
				case events.TypeEstimateSolution:
					var v events.EstimateSolution
					if err := json.Unmarshal(e.Data, &v); err != nil {
						t.Fatal(err)
					}
					solvers[v.SolverVersion] = true
				}
			}
			want := round3((register(last) + register(gap.Add(interval))) / 2)
			if len(est) != 1 || est[0].Candidates != 2 || est[0].EnergyKWhTotal != want || string(out[0].Key) == "" || !solvers["v1"] || !solvers["v2"] {
				t.Fatalf("estimates = %+v from solvers %v, want one of 2 candidates at %v", est, solvers, want)
			}
		})
	}
}
