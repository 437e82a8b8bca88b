package rivers_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestKafkaOversizeRecordGetsALetter: a record the broker took but whose
// dead letter would not fit (it used to be committed with no letter while
// the dead-letter counter counted two) is dead-lettered without its value,
// with the value's size and digest, and the stream goes on.
func TestKafkaOversizeRecordGetsALetter(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			cfg := testConfig("voltage-watch")
			cfg.Kafka = k.Kafka
			svc, w := newVoltageWatch(t, cfg)
			riverstest.ServeKafka(t, svc, k.Kafka)
			topic := k.Kafka.Topics.Rapids

			big := record(t, topic, newReading(t, "MTR-1", 180))
			big.Value = bytes.Repeat([]byte("x"), 1_048_200) // not JSON: malformed
			after := newReading(t, "MTR-2", 180)
			riverstest.Produce(t, k.Kafka, big)
			riverstest.Produce(t, k.Kafka, record(t, topic, after))

			riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeMeterReadingAnomalous, 1), 30*time.Second)
			riverstest.Consume(t, k.Kafka, topic+".dlq", riverstest.Count("", 1), 30*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ranges, err := rapids.Ranges(ctx, k.Kafka, topic+".dlq")
			if err != nil {
				t.Fatal(err)
			}
			var dl []rivers.Record
			if err := rapids.ReadRanges(ctx, k.Kafka, ranges, 0, func(r rapids.Record) error { dl = append(dl, rivers.Record(r)); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(dl) != 1 {
				t.Fatalf("%d letters, want 1", len(dl))
			}
			d, err := rivers.ParseDeadLetter(dl[0])
			if err != nil {
				t.Fatal(err)
			}
			if d.Class != rivers.ClassMalformed || d.Omitted != "value" || d.PayloadBytes != 1_048_200 || len(d.PayloadSHA256) != 64 ||
				d.OriginTopic != topic || len(dl[0].Value) != 0 {
				t.Errorf("letter %+v", d)
			}
			if got := w.seen(); len(got) != 1 || got[0] != after.ID {
				t.Errorf("handled %v, want the reading after the big record", got)
			}
			// The counter counts the one acknowledged letter (it used to count
			// two letters, neither written).
			deadline := time.Now().Add(10 * time.Second)
			for deadMetric(t, svc, "watershed_events_dead_lettered_total") < 1 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if n, failed := deadMetric(t, svc, "watershed_events_dead_lettered_total"), deadMetric(t, svc, "watershed_events_dead_letter_failed_total"); n != 1 || failed != 0 {
				t.Errorf("dead_lettered_total %v, dead_letter_failed_total %v; want 1 and 0", n, failed)
			}
		})
	}
}

// deadMetric sums the samples of a counter on the service's /metrics.
func deadMetric(t *testing.T, svc *rivers.Service, name string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var sum float64
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
