package demandtracker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/demand-tracker/demandtracker"
)

const produced = events.TypeMeterReadingAnomalous

func serviceConfig(name string, k rapids.Config) rivers.Config {
	return rivers.Config{Name: name, Version: "1.0.0", Instance: name + "-1", Kafka: k, HTTPAddr: "off",
		LogLevel: "error", HeartbeatInterval: 150 * time.Millisecond, ShutdownTimeout: 5 * time.Second}
}

func newService(t *testing.T, name string, k rapids.Config) *rivers.Service {
	t.Helper()
	svc, err := rivers.NewService(serviceConfig(name, k))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// anomaly is a valid meter.reading.anomalous.v1 payload from the catalog's examples.
func anomaly(t *testing.T) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../../../contracts/examples/meter.reading.anomalous.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withheld reads watershed_events_withheld_total{type=typ} from the service's /metrics.
func withheld(t *testing.T, svc *rivers.Service, typ string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sum := 0.0
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, rivers.MetricEventsWithheld) || !strings.Contains(line, `type="`+typ+`"`) {
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

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUnconsumedTypeIsRetiredAndReinstated: a producer whose type only a
// passive archiver reads is told to stop; its publications are withheld
// and the rivers carry no more of the type; a real subscriber brings it
// back.
func TestUnconsumedTypeIsRetiredAndReinstated(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			payload := anomaly(t)

			tracker := newService(t, demandtracker.Name, k.Kafka)
			cfg := demandtracker.DefaultConfig()
			cfg.Idle, cfg.Grace, cfg.Evaluate, cfg.Resend, cfg.InstanceTTL = 300*time.Millisecond, 300*time.Millisecond, 50*time.Millisecond, time.Second, 3*time.Second
			if err := demandtracker.Register(tracker, cfg); err != nil {
				t.Fatal(err)
			}

			// the archiver reads everything, passively, and counts the type
			var archived atomic.Int64
			archiver := newService(t, "archiver", k.Kafka)
			archiver.Handle(rivers.NewRiver("*").Named("archive").Passive(),
				func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
					if ev.Type() == produced {
						archived.Add(1)
					}
					return nil
				})

			var sent atomic.Int64
			producer := newService(t, "anomaly-maker", k.Kafka)
			producer.Publishes(produced)
			producer.Every(40*time.Millisecond, "emit", func(ctx context.Context, _ time.Time, pub rivers.Publisher) error {
				err := pub.Publish(ctx, produced, payload)
				if errors.Is(err, rivers.ErrRetired) {
					return nil
				}
				if err == nil {
					sent.Add(1)
				}
				return err
			})

			riverstest.ServeKafka(t, tracker, k.Kafka)
			riverstest.ServeKafka(t, archiver, k.Kafka)
			riverstest.ServeKafka(t, producer, k.Kafka)

			waitFor(t, "the archiver to see the type", 30*time.Second, func() bool { return archived.Load() > 0 })
			waitFor(t, "the retirement", 30*time.Second, func() bool { return slices.Contains(producer.Retired(), produced) })

			// nothing more on the rivers: what was sent before the retirement
			// arrives (however loaded the machine), then the count stays
			waitFor(t, "the events sent before the retirement to arrive", 30*time.Second,
				func() bool { return archived.Load() >= sent.Load() })
			before, w0 := archived.Load(), withheld(t, producer, produced)
			time.Sleep(800 * time.Millisecond)
			if after := archived.Load(); after != before {
				t.Fatalf("the rivers still carry %s after its retirement: %d archived, then %d", produced, before, after)
			}
			if w1 := withheld(t, producer, produced); w1 <= w0 {
				t.Fatalf("withheld metric did not rise after retirement: %v then %v", w0, w1)
			}
			hb := producer.Heartbeat(context.Background())
			if !slices.Contains(hb.Retired, produced) || slices.Contains(hb.Publishes, produced) {
				t.Fatalf("heartbeat should list %s as retired, not published: %+v / %+v", produced, hb.Retired, hb.Publishes)
			}

			// a real subscriber: reinstated, and the type flows again
			var consumed atomic.Int64
			consumer := newService(t, "anomaly-reader", k.Kafka)
			consumer.Handle(rivers.NewRiver(produced).Named("anomalies").Require("meter_id"),
				func(context.Context, rivers.Event, rivers.Publisher) error { consumed.Add(1); return nil })
			riverstest.ServeKafka(t, consumer, k.Kafka)
			waitFor(t, "the reinstatement", 30*time.Second, func() bool { return !slices.Contains(producer.Retired(), produced) })
			resumed := archived.Load()
			waitFor(t, "the type to flow again", 30*time.Second, func() bool { return archived.Load() > resumed && consumed.Load() > 0 })

			// the tracker's report says so
			rec := httptest.NewRecorder()
			tracker.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/demand", nil))
			var rep demandtracker.Report
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatalf("/v1/demand: %v: %s", err, rec.Body)
			}
			i := slices.IndexFunc(rep.Types, func(s demandtracker.TypeStatus) bool { return s.Type == produced })
			if i < 0 || rep.Types[i].State != demandtracker.Demanded || rep.Types[i].Active < 1 {
				t.Fatalf("/v1/demand for %s: %+v", produced, rep.Types)
			}
		})
	}
}
