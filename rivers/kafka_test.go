package rivers_test

import (
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func record(t testing.TB, topic string, e contracts.Event) rivers.Record {
	t.Helper()
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	return rivers.Record{Topic: topic, Key: m.Key, Value: m.Value, Headers: m.Headers}
}

func newReading(t testing.TB, meter string, voltage float64) contracts.Event {
	t.Helper()
	now := time.Now().UTC()
	e, err := contracts.New(riverstest.Source, events.TypeMeterReading, reading(meter, voltage, now))
	if err != nil {
		t.Fatal(err)
	}
	e.PartitionKey = meter
	e.ExpiryTime = now.Add(time.Hour)
	return e
}

// TestKafkaBadInputNeverStopsTheStream is TestBadInputNeverStopsTheStream
// over Kafka: each bad record is dead-lettered on rapids.dlq with its
// origin, a transient failure after its retries, the expired and the
// duplicate are dropped, and every good event is handled.
func TestKafkaBadInputNeverStopsTheStream(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			cfg := testConfig("voltage-watch")
			cfg.Kafka = k.Kafka
			svc, w := newVoltageWatch(t, cfg)
			riverstest.ServeKafka(t, svc, k.Kafka)
			rapidsTopic := k.Kafka.Topics.Rapids

			var recs []rivers.Record
			var goodIDs []string
			good := func(meter string) {
				e := newReading(t, meter, 180)
				goodIDs = append(goodIDs, e.ID)
				recs = append(recs, record(t, rapidsTopic, e))
			}
			m := record(t, rapidsTopic, newReading(t, "MTR-1", 180))
			m.Value = []byte("{not json")
			recs = append(recs, m)
			good("MTR-2")
			schema := newReading(t, "MTR-3", 180)
			schema.Data = []byte(`{"meter_id":"MTR-3"}`)
			recs = append(recs, record(t, rapidsTopic, schema))
			good("MTR-4")
			expired := newReading(t, "MTR-5", 180)
			expired.ExpiryTime = time.Now().Add(-time.Minute)
			recs = append(recs, record(t, rapidsTopic, expired))
			good("MTR-6")
			dup := newReading(t, "MTR-7", 180)
			recs = append(recs, record(t, rapidsTopic, dup), record(t, rapidsTopic, dup))
			goodIDs = append(goodIDs, dup.ID)
			good("MTR-8")
			recs = append(recs, record(t, rapidsTopic, newReading(t, "PANIC", 180)))
			good("MTR-9")
			recs = append(recs, record(t, rapidsTopic, newReading(t, "FAIL", 180)))
			loop := newReading(t, "MTR-10", 180)
			loop.Hops = 12
			recs = append(recs, record(t, rapidsTopic, loop))
			good("MTR-11")
			riverstest.Produce(t, k.Kafka, recs...)

			dlq := riverstest.Consume(t, k.Kafka, rapidsTopic+".dlq", riverstest.Count("", 5), 30*time.Second)
			var classes []string
			for _, r := range dlq {
				d, err := rivers.ParseDeadLetter(r)
				if err != nil {
					t.Fatal(err)
				}
				if d.OriginTopic != rapidsTopic || d.ConsumerGroup != "voltage-watch" || d.Error == "" {
					t.Errorf("dead letter origin = %+v", d)
				}
				if d.Class == rivers.ClassRetriesExhausted && (d.Attempts != 3 || d.River != "readings") {
					t.Errorf("transient failure dead-lettered after %d attempts by %q, want 3 by readings", d.Attempts, d.River)
				}
				classes = append(classes, d.Class)
			}
			slices.Sort(classes)
			if want := []string{rivers.ClassLoop, rivers.ClassMalformed, rivers.ClassPanic, rivers.ClassRetriesExhausted, rivers.ClassSchema}; !slices.Equal(classes, want) {
				t.Errorf("dead-letter classes %v, want %v", classes, want)
			}
			out := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeMeterReadingAnomalous, len(goodIDs)), 30*time.Second)
			var anomalies int
			for _, r := range out {
				if v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType); string(v) == events.TypeMeterReadingAnomalous {
					anomalies++
				}
			}
			if anomalies != len(goodIDs) {
				t.Errorf("%d anomalies on %s, want %d", anomalies, k.Kafka.Topics.Rivers, len(goodIDs))
			}
			if got := w.seen(); !sameSet(got, goodIDs) || len(got) != len(goodIDs) {
				t.Errorf("handled %v, want %v", got, goodIDs)
			}
		})
	}
}
