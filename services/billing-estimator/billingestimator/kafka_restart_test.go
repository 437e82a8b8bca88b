package billingestimator

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// killable is a Kafka transport whose member can be killed as kill -9
// would, as far as the broker can tell: from the kill it commits nothing
// more (offsets not sent yet are dropped), publishes nothing more and
// leaves the group with its partitions' last committed offsets.
type killable struct {
	rivers.Transport
	killed atomic.Bool
	mu     sync.Mutex
	subs   []rivers.Subscription
}

var errKilled = errors.New("killed")

func (k *killable) Publish(ctx context.Context, records ...rivers.Record) error {
	if k.killed.Load() {
		return errKilled
	}
	return k.Transport.Publish(ctx, records...)
}

func (k *killable) Subscribe(ctx context.Context, group string, topics []string) (rivers.Subscription, error) {
	s, err := k.Transport.Subscribe(ctx, group, topics)
	if err == nil {
		k.mu.Lock()
		k.subs = append(k.subs, s)
		k.mu.Unlock()
	}
	return s, err
}

func (k *killable) kill() {
	k.killed.Store(true)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range k.subs {
		if c, ok := s.(interface{ CloseWithoutCommit() error }); ok {
			_ = c.CloseWithoutCommit()
		}
	}
}

// instance is one estimator served on Kafka.
type instance struct {
	svc    *rivers.Service
	tr     *killable
	cancel context.CancelFunc
	done   chan error
}

func serveEstimator(t *testing.T, kc rapids.Config, name string) *instance {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v1", Instance: name, Group: Name + "-v1",
		HTTPAddr: "off", LogLevel: "error", Kafka: kc})
	if err != nil {
		t.Fatal(err)
	}
	ask := true
	// the deadline leaves the need open at the stop, and is long enough for
	// the answer under -race (an unanswered need waits for the meter's next
	// news, which the scenario does not send)
	if err := Register(svc, Config{Method: MethodInterpolation, Ask: &ask, Deadline: 5 * time.Second, Hold: time.Hour}); err != nil {
		t.Fatal(err)
	}
	tr, err := rivers.NewKafkaTransport(kc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{svc: svc, tr: &killable{Transport: tr}, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- svc.Serve(ctx, in.tr) }()
	t.Cleanup(func() { in.stop(t, false) })
	riverstest.WaitFor(t, 30*time.Second, "the estimator ready", func() bool { return svc.Ready(context.Background()) == nil })
	return in
}

// stop stops the instance, gracefully or killed.
func (in *instance) stop(t *testing.T, kill bool) {
	t.Helper()
	if in.cancel == nil {
		return
	}
	if kill {
		in.tr.kill()
	}
	in.cancel()
	in.cancel = nil
	if err := <-in.done; err != nil && !kill {
		t.Errorf("estimator stopped with %v", err)
	}
	_ = in.tr.Transport.Close()
}

// TestRestartOnKafka runs a day and a half of one meter on the embedded
// broker (and real Kafka when WATERSHED_TEST_KAFKA is set): a gap estimated
// and billed, then a second gap whose need is open when the estimator is
// stopped — gracefully, or killed — with its day open; a new instance
// trues the first gap up, estimates the second and bills its day. It must
// publish what an undisturbed run does, revisions never going back.
func TestRestartOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker: skipped with -short")
	}
	want := map[string]map[string]string{} // broker → the undisturbed run's conclusions
	for _, mode := range []string{"undisturbed", "stopped", "killed"} {
		t.Run(mode, func(t *testing.T) {
			for _, k := range riverstest.Kafkas(t) {
				t.Run(k.Name, func(t *testing.T) {
					got := kafkaScenario(t, k.Kafka, mode)
					if mode == "undisturbed" {
						want[k.Name] = got
						return
					}
					if want[k.Name] == nil {
						t.Skip("no undisturbed run on this broker to compare with (it failed, or -run left it out)")
					}
					compareConclusions(t, want[k.Name], got)
				})
			}
		})
	}
}

func kafkaScenario(t *testing.T, kc rapids.Config, mode string) map[string]string {
	t.Helper()
	record := func(topic, typ string, data any) rivers.Record {
		e, err := contracts.New(riverstest.Source, typ, data)
		if err != nil {
			t.Fatal(err)
		}
		e.PartitionKey = "MTR-1"
		m, err := contracts.EncodeBinary(e)
		if err != nil {
			t.Fatal(err)
		}
		return rivers.Record{Topic: topic, Key: m.Key, Value: m.Value, Headers: m.Headers}
	}
	reads := func(from, to time.Time, skip ...time.Time) {
		var recs []rivers.Record
		for at := from; !at.After(to); at = at.Add(interval) {
			if !containsTime(skip, at) {
				recs = append(recs, record(kc.Topics.Rapids, events.TypeMeterReading, reading("MTR-1", at)))
			}
		}
		riverstest.Produce(t, kc, recs...)
	}
	missed := func(at time.Time) {
		last := at.Add(-interval)
		riverstest.Produce(t, kc, record(kc.Topics.Rivers, events.TypeMeterReadingMissed, events.MeterReadingMissed{
			MeterID: "MTR-1", TransformerID: "TX-1", FeederID: "FDR-1", ExpectedAt: at, IntervalSeconds: 900, GraceSeconds: 1800,
			ConsecutiveMissed: 1, DetectedAt: at.Add(30 * time.Minute), LastReadAt: last, LastEnergyKWhTotal: ptr(register(last))}))
	}
	var in *instance
	published := func(done func(map[string]string, []contracts.Event) bool, what string) map[string]string {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); ; {
			var evs []contracts.Event
			types := map[string]int{}
			for _, r := range riverstest.Consume(t, kc, kc.Topics.Rivers, nil, 3*time.Second) {
				if e, err := contracts.DecodeBinary(r.Message()); err == nil && e.Source == source {
					evs = append(evs, e)
					types[e.Type]++
				}
			}
			out := conclusions(t, onlyConclusions(evs))
			if done(out, evs) {
				return out
			}
			if time.Now().After(deadline) {
				m := func(name string, labels ...string) float64 { return riverstest.Metric(t, in.svc, name, labels...) }
				t.Fatalf("waited 90s for %s: published %v; needs asked %v, solved %v, unsolved %v; solutions collected %v, unknown %v, late %v; answered %v, late %v",
					what, types, m(rivers.MetricNeedsAsked), m(rivers.MetricNeedsDecided, "outcome", "solved"), m(rivers.MetricNeedsDecided, "outcome", "unsolved"),
					m(rivers.MetricSolutions, "outcome", "collected"), m(rivers.MetricSolutions, "outcome", "unknown"), m(rivers.MetricSolutions, "outcome", "late"),
					m(rivers.MetricNeedsAnswered, "outcome", "answered"), m(rivers.MetricNeedsAnswered, "outcome", "late"))
			}
		}
	}
	gapA, gapC := day0.Add(10*time.Hour), day0.Add(28*time.Hour)
	dayA, dayC := "period MTR-1 day "+day0.Format(time.RFC3339), "period MTR-1 day "+day0.Add(24*time.Hour).Format(time.RFC3339)

	in = serveEstimator(t, kc, "a")
	reads(day0, day0.Add(30*time.Hour), gapA, gapC)
	missed(gapA)
	published(func(c map[string]string, _ []contracts.Event) bool { return c[dayA] != "" }, "gapA estimated and its day billed")
	missed(gapC)
	published(func(_ map[string]string, evs []contracts.Event) bool {
		for _, e := range evs {
			if e.Type == events.TypeEstimateNeeded && containsNeed(e, gapC) {
				return true
			}
		}
		return false
	}, "gapC asked")
	if mode != "undisturbed" {
		in.stop(t, mode == "killed")
		in = serveEstimator(t, kc, "b")
	}
	reads(gapA, gapA)                                              // gapA's actual read, late
	reads(day0.Add(30*time.Hour+interval), day0.Add(48*time.Hour)) // the rest of day 1
	published(func(c map[string]string, _ []contracts.Event) bool {
		return c[dayC] != "" && c["adjusted MTR-1 "+gapA.Format(time.RFC3339)] != "" &&
			c["estimated "+events.ReadingID("MTR-1\nmeter.reading.estimated", gapC)] != "" &&
			strings.Contains(c[dayA], "EstimatedIntervals:0")
	}, "gapC estimated, gapA trued up, both days billed")
	time.Sleep(time.Second) // anything more it would publish
	return published(func(map[string]string, []contracts.Event) bool { return true }, "the final conclusions")
}

func containsTime(ts []time.Time, t time.Time) bool {
	for _, x := range ts {
		if x.Equal(t) {
			return true
		}
	}
	return false
}

// containsNeed reports whether need e asks for the read at t.
func containsNeed(e contracts.Event, t time.Time) bool {
	var n events.EstimateNeeded
	return json.Unmarshal(e.Data, &n) == nil && n.ExpectedAt.Equal(t)
}

// onlyConclusions keeps the estimates, true-ups and billing periods.
func onlyConclusions(evs []contracts.Event) []contracts.Event {
	var out []contracts.Event
	for _, e := range evs {
		switch e.Type {
		case events.TypeMeterReadingEstimated, events.TypeMeterReadingAdjusted, events.TypeBillingPeriod:
			out = append(out, e)
		}
	}
	return out
}
