package billingestimator

import (
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestOnKafka runs the service on a Kafka broker — the embedded one always,
// and the real Kafka of the integration suite when WATERSHED_TEST_KAFKA is
// set — and sends it a meter.reading.missed.v1 on the rivers topic: the same path
// it takes in production.
func TestOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker: skipped with -short")
	}
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error", Kafka: k.Kafka})
			if err != nil {
				t.Fatal(err)
			}
			if err := Register(svc, Config{}); err != nil {
				t.Fatal(err)
			}
			riverstest.ServeKafka(t, svc, k.Kafka)

			in := meterReadingMissedExample(t)
			e, err := contracts.New(riverstest.Source, events.TypeMeterReadingMissed, in)
			if err != nil {
				t.Fatal(err)
			}
			e.PartitionKey = in.MeterID
			m, err := contracts.EncodeBinary(e)
			if err != nil {
				t.Fatal(err)
			}
			riverstest.Produce(t, k.Kafka, rivers.Record{Topic: k.Kafka.Topics.Rivers, Key: m.Key, Value: m.Value, Headers: m.Headers})
			riverstest.WaitFor(t, 30*time.Second, "the meter.reading.missed.v1 handled", func() bool {
				return riverstest.Metric(t, svc, rivers.MetricHandlerDuration, "river", "meter-reading-missed", "outcome", "ok") == 1
			})
			// What it publishes for it is what meterReadingEstimatedFromMeterReadingMissed returns.
			if want, ok := meterReadingEstimatedFromMeterReadingMissed(in); ok {
				out := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeMeterReadingEstimated, 1), 30*time.Second)
				i := slices.IndexFunc(out, func(r rivers.Record) bool {
					v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType)
					return string(v) == events.TypeMeterReadingEstimated
				})
				if i < 0 {
					t.Fatalf("no meter.reading.estimated.v1 on the rivers within 30s (%d records)", len(out))
				}
				if string(out[i].Key) != want.MeterID {
					t.Errorf("meter.reading.estimated.v1 keyed %q, want %q", out[i].Key, want.MeterID)
				}
			}
			// What it publishes for it is what meterReadingAdjustedFromMeterReadingMissed returns.
			if want, ok := meterReadingAdjustedFromMeterReadingMissed(in); ok {
				out := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeMeterReadingAdjusted, 1), 30*time.Second)
				i := slices.IndexFunc(out, func(r rivers.Record) bool {
					v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType)
					return string(v) == events.TypeMeterReadingAdjusted
				})
				if i < 0 {
					t.Fatalf("no meter.reading.adjusted.v1 on the rivers within 30s (%d records)", len(out))
				}
				if string(out[i].Key) != want.MeterID {
					t.Errorf("meter.reading.adjusted.v1 keyed %q, want %q", out[i].Key, want.MeterID)
				}
			}
			// What it publishes for it is what billingPeriodFromMeterReadingMissed returns.
			if want, ok := billingPeriodFromMeterReadingMissed(in); ok {
				out := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeBillingPeriod, 1), 30*time.Second)
				i := slices.IndexFunc(out, func(r rivers.Record) bool {
					v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType)
					return string(v) == events.TypeBillingPeriod
				})
				if i < 0 {
					t.Fatalf("no billing.period.v1 on the rivers within 30s (%d records)", len(out))
				}
				if string(out[i].Key) != want.MeterID {
					t.Errorf("billing.period.v1 keyed %q, want %q", out[i].Key, want.MeterID)
				}
			}
		})
	}
}
