package riverstest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Source is the ce_source of the events a Kit builds.
const Source = "/services/riverstest"

// Kit runs one service in memory for a test: [Kit.Send] feeds events to its
// rivers and returns once they are handled and committed, [Kit.Advance]
// runs its timers and heartbeats on a manual clock, and the inspectors show
// what it published, dead-lettered and counted. The service runs through
// its real pipeline (Service.Serve over a [Bus]), so what passes here
// passes on Kafka.
type Kit struct {
	t       testing.TB
	svc     *rivers.Service
	bus     *Bus
	backlog *Backlog // when set, the service reads the bus through it
	clock   *Clock
	timeout time.Duration
	cancel  context.CancelFunc
	done    chan error
	err     error
	stopped bool
}

// Option configures a Kit.
type Option func(*Kit)

// WithBus runs the service on b instead of a bus of its own, so several
// services of one test talk to each other.
func WithBus(b *Bus) Option { return func(k *Kit) { k.bus = b } }

// WithClock runs the service on c instead of a clock of its own (starting
// at 2030-01-01T00:00:00Z).
func WithClock(c *Clock) Option { return func(k *Kit) { k.clock = c } }

// WithTimeout bounds each wait of the kit (Send, New). Default 10s.
func WithTimeout(d time.Duration) Option { return func(k *Kit) { k.timeout = d } }

// Start is the time a Kit's clock starts at.
var Start = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// New serves svc on an in-memory bus with a manual clock and returns once
// it is ready. The service is stopped when the test ends; a stop error
// fails the test.
func New(t testing.TB, svc *rivers.Service, opts ...Option) *Kit {
	t.Helper()
	k := &Kit{t: t, svc: svc, timeout: 10 * time.Second, done: make(chan error, 1)}
	for _, o := range opts {
		o(k)
	}
	if k.bus == nil {
		k.bus = NewBus()
	}
	if k.clock == nil {
		k.clock = NewClock(Start)
	}
	k.bus.mu.Lock()
	k.bus.now = k.clock.Now
	k.bus.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	var tr rivers.Transport = k.bus
	if k.backlog != nil {
		tr = k.backlog.on(k.bus)
	}
	go func() { k.done <- svc.Serve(ctx, tr, rivers.WithClock(k.clock)) }()
	t.Cleanup(func() {
		if err := k.Stop(); err != nil {
			t.Errorf("riverstest: service stopped with an error: %v", err)
		}
	})
	deadline := time.Now().Add(k.timeout)
	for svc.Ready(context.Background()) != nil {
		select {
		case err := <-k.done:
			k.stopped, k.err = true, err
			t.Fatalf("riverstest: service stopped at start: %v", err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("riverstest: service not ready after %s: %v", k.timeout, svc.Ready(context.Background()))
		}
	}
	k.waitFor("the first heartbeat", func() bool { return len(k.Published(events.TypeHeartbeat)) > 0 })
	return k
}

// Bus returns the kit's bus.
func (k *Kit) Bus() *Bus { return k.bus }

// Clock returns the kit's clock.
func (k *Kit) Clock() *Clock { return k.clock }

// Now returns the clock's time.
func (k *Kit) Now() time.Time { return k.clock.Now() }

// Advance moves the clock by d and runs the timers (and heartbeats) due, so
// their publications are visible when it returns.
func (k *Kit) Advance(d time.Duration) { k.clock.Advance(d) }

// Event returns a new event of typ from [Source] with data as payload, the
// clock's time and a use-by one hour later. Adjust the returned value's
// fields (PartitionKey, ExpiryTime, Hops...) before sending it.
func (k *Kit) Event(typ string, data any) contracts.Event {
	k.t.Helper()
	e, err := contracts.New(Source, typ, data)
	if err != nil {
		k.t.Fatalf("riverstest: event %s: %v", typ, err)
	}
	e.Time = k.clock.Now()
	e.ExpiryTime = e.Time.Add(time.Hour)
	return e
}

// SendOption adjusts one Send.
type SendOption func(*sendOptions)

type sendOptions struct{ topic rivers.Topic }

// OnTopic sends to topic t. Default [rivers.Rivers].
func OnTopic(t rivers.Topic) SendOption { return func(o *sendOptions) { o.topic = t } }

// Send encodes e in Kafka binary mode onto its topic and returns, with its
// position, once the service has processed and committed it (or at once when
// the service does not read the topic).
func (k *Kit) Send(e contracts.Event, opts ...SendOption) rivers.Record {
	k.t.Helper()
	var o sendOptions
	for _, opt := range opts {
		opt(&o)
	}
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		k.t.Fatalf("riverstest: encode %s: %v", e.Type, err)
	}
	return k.SendRecord(rivers.Record{Topic: k.topic(o.topic), Key: m.Key, Value: m.Value, Headers: m.Headers})
}

// SendRecord appends a raw record (any bytes: malformed records too) and
// waits like Send. Topic "" means the rivers topic.
func (k *Kit) SendRecord(r rivers.Record) rivers.Record {
	k.t.Helper()
	if r.Topic == "" {
		r.Topic = k.topic(rivers.Rivers)
	}
	r, err := k.bus.Append(r)
	if err != nil {
		k.t.Fatalf("riverstest: send: %v", err)
	}
	if !k.reads(r.Topic) {
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	if err := k.bus.WaitCommitted(ctx, k.svc.Config().Group, r.Topic, r.Offset); err != nil {
		k.t.Fatalf("riverstest: %s offset %d not committed after %s (is a handler blocked?): %v", r.Topic, r.Offset, k.timeout, err)
	}
	return r
}

func (k *Kit) topic(t rivers.Topic) string {
	c := k.svc.Config()
	switch t {
	case rivers.Rivers, "":
		return c.Kafka.Topics.Rivers
	case rivers.Rapids:
		return c.Kafka.Topics.Rapids
	}
	return string(t)
}

func (k *Kit) reads(topic string) bool {
	return slices.Contains(k.svc.Topics(), topic)
}

// Published returns the events the service published, oldest first, on
// every topic but the dead-letter ones; only those of types when given.
func (k *Kit) Published(types ...string) []contracts.Event {
	k.t.Helper()
	source := "/services/" + k.svc.Config().Name
	var out []contracts.Event
	for _, topic := range k.bus.Topics() {
		if strings.HasSuffix(topic, ".dlq") {
			continue
		}
		for _, r := range k.bus.Records(topic) {
			v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderSource)
			if string(v) != source {
				continue
			}
			e, err := contracts.DecodeBinary(r.Message())
			if err != nil {
				k.t.Fatalf("riverstest: the service published an undecodable record on %s@%d: %v", topic, r.Offset, err)
			}
			if len(types) == 0 || slices.Contains(types, e.Type) {
				out = append(out, e)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b contracts.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// PublishedRecords returns the records the service published on topic.
func (k *Kit) PublishedRecords(topic rivers.Topic) []rivers.Record {
	source := "/services/" + k.svc.Config().Name
	var out []rivers.Record
	for _, r := range k.bus.Records(k.topic(topic)) {
		if v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderSource); string(v) == source {
			out = append(out, r)
		}
	}
	return out
}

// DeadLetters returns the records the service dead-lettered, parsed.
func (k *Kit) DeadLetters() []rivers.DeadLetter {
	k.t.Helper()
	var out []rivers.DeadLetter
	for _, topic := range k.bus.Topics() {
		if !strings.HasSuffix(topic, ".dlq") {
			continue
		}
		for _, r := range k.bus.Records(topic) {
			d, err := rivers.ParseDeadLetter(r)
			if err != nil {
				k.t.Fatalf("riverstest: %s@%d: %v", topic, r.Offset, err)
			}
			if d.Service == k.svc.Config().Name {
				out = append(out, d)
			}
		}
	}
	return out
}

// Heartbeat returns the payload of the last heartbeat the service
// published.
func (k *Kit) Heartbeat() events.Heartbeat {
	k.t.Helper()
	hbs := k.Published(events.TypeHeartbeat)
	if len(hbs) == 0 {
		k.t.Fatal("riverstest: no heartbeat published")
	}
	var hb events.Heartbeat
	if err := json.Unmarshal(hbs[len(hbs)-1].Data, &hb); err != nil {
		k.t.Fatalf("riverstest: heartbeat: %v", err)
	}
	return hb
}

// Metric returns the value of a metric on the service's /metrics: the sum
// over the series whose labels include labels (name, value pairs) — for a
// histogram, the number of observations.
func (k *Kit) Metric(name string, labels ...string) float64 {
	k.t.Helper()
	return Metric(k.t, k.svc, name, labels...)
}

// Metric returns the value of a metric on svc's /metrics, as [Kit.Metric]
// does, for a service the test runs another way ([ServeKafka]).
func Metric(t testing.TB, svc *rivers.Service, name string, labels ...string) float64 {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("riverstest: Metric %s: labels must be name, value pairs", name)
	}
	rec := httptest.NewRecorder()
	svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("riverstest: parse /metrics: %v", err)
	}
	fam := fams[name]
	if fam == nil {
		return 0
	}
	var sum float64
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Stop stops the service gracefully and returns what Serve returned. The
// kit calls it when the test ends; calling it earlier tests the shutdown.
func (k *Kit) Stop() error {
	if k.stopped {
		return k.err
	}
	k.stopped = true
	k.cancel()
	select {
	case k.err = <-k.done:
	case <-time.After(k.timeout + k.svc.Config().ShutdownTimeout):
		k.err = errors.New("riverstest: the service did not stop")
	}
	return k.err
}

func (k *Kit) waitFor(what string, cond func() bool) {
	k.t.Helper()
	deadline := time.Now().Add(k.timeout)
	for !cond() {
		if time.Now().After(deadline) {
			k.t.Fatalf("riverstest: waited %s for %s", k.timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}
