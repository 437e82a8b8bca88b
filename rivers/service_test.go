package rivers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func sendReading(kit *riverstest.Kit, meter string, voltage float64) contracts.Event {
	e := kit.Event(events.TypeMeterReading, reading(meter, voltage, kit.Now()))
	e.PartitionKey = meter
	kit.Send(e, riverstest.OnTopic(rivers.Rapids))
	return e
}

func TestHandlerFailures(t *testing.T) {
	svc, w := newVoltageWatch(t, testConfig("voltage-watch"))
	kit := riverstest.New(t, svc)
	failing := sendReading(kit, "FAIL", 180)
	flaky := sendReading(kit, "FLAKY", 180)
	bad := sendReading(kit, "BAD", 180)
	undeclared := sendReading(kit, "UNDECLARED", 180)
	good := sendReading(kit, "MTR-1", 180)

	byID := map[string]rivers.DeadLetter{}
	for _, d := range kit.DeadLetters() {
		v, _ := contracts.HeaderValue(d.Message.Headers, contracts.HeaderID)
		byID[string(v)] = d
	}
	for _, c := range []struct {
		ev       contracts.Event
		class    string
		attempts int
		errText  string
	}{
		{failing, rivers.ClassRetriesExhausted, 3, "database unavailable"},
		{bad, rivers.ClassPermanent, 1, "asset register"},
		{undeclared, rivers.ClassPermanent, 1, `key "customer_id"`},
	} {
		d, ok := byID[c.ev.ID]
		if !ok {
			t.Errorf("%s: not dead-lettered", c.errText)
			continue
		}
		if d.Class != c.class || d.Attempts != c.attempts || !strings.Contains(d.Error, c.errText) || d.River != "readings" {
			t.Errorf("dead letter %+v: want class %s, %d attempts, error with %q", d, c.class, c.attempts, c.errText)
		}
	}
	if len(byID) != 3 {
		t.Errorf("%d dead letters, want 3", len(byID))
	}
	if _, ok := byID[flaky.ID]; ok {
		t.Error("the flaky event was dead-lettered although its second attempt succeeded")
	}
	var anomalies []string
	for _, e := range kit.Published(events.TypeMeterReadingAnomalous) {
		anomalies = append(anomalies, e.CausationID)
	}
	// FAIL, BAD and UNDECLARED published before failing: discarded. FLAKY
	// published on both attempts: sent once.
	if want := []string{flaky.ID, good.ID}; !sameSet(anomalies, want) || len(anomalies) != 2 {
		t.Errorf("anomalies caused by %v, want exactly %v", anomalies, want)
	}
	if got := w.seen(); len(got) != 2 {
		t.Errorf("handled %v, want the flaky and the good one", got)
	}
	if got := kit.Metric(rivers.MetricHandlerDuration, "river", "readings", "outcome", "error"); got != 3 {
		t.Errorf("handler duration error observations %v, want 3", got)
	}
}

func TestRiverRulesRejectBeforeTheHandler(t *testing.T) {
	svc, err := rivers.NewService(testConfig("rules"))
	if err != nil {
		t.Fatal(err)
	}
	var rejected []rivers.Rejection
	var handled atomic.Int32
	svc.Handle(rivers.NewRiver(events.TypeMeterReading).OnTopic(rivers.Rapids).
		Require("meter_id").RequireValue("feeder_id", "FDR-07").Forbid("flags").
		OnReject(func(_ context.Context, r rivers.Rejection) { rejected = append(rejected, r) }),
		func(context.Context, rivers.Event, rivers.Publisher) error { handled.Add(1); return nil })
	kit := riverstest.New(t, svc)
	ok := reading("M1", 230, kit.Now())
	otherFeeder := reading("M2", 230, kit.Now())
	otherFeeder.FeederID = "FDR-01"
	flagged := reading("M3", 230, kit.Now())
	flagged.Flags = []string{events.FlagTamper}
	for _, r := range []events.MeterReading{ok, otherFeeder, flagged} {
		kit.Send(kit.Event(events.TypeMeterReading, r), riverstest.OnTopic(rivers.Rapids))
	}
	if handled.Load() != 1 {
		t.Errorf("handled %d, want 1", handled.Load())
	}
	if len(rejected) != 2 || !strings.Contains(rejected[0].Problems[0], "feeder_id") ||
		!strings.Contains(rejected[1].Problems[0], `forbidden key "flags"`) || rejected[1].Event.Type != events.TypeMeterReading {
		t.Errorf("rejections %+v", rejected)
	}
	if got := kit.Metric(rivers.MetricEventsRejected, "river", "meter.reading.v1"); got != 2 {
		t.Errorf("rejected metric %v, want 2", got)
	}
	if len(kit.DeadLetters()) != 0 {
		t.Error("a rejection was dead-lettered")
	}
}

func TestDerivedEventLineage(t *testing.T) {
	cfg := testConfig("voltage-watch")
	cfg.TTLs = map[string]time.Duration{events.TypeMeterReadingAnomalous: 90 * time.Minute}
	svc, _ := newVoltageWatch(t, cfg)
	kit := riverstest.New(t, svc)
	cause := kit.Event(events.TypeMeterReading, reading("MTR-000417", 180, kit.Now()))
	cause.CorrelationID = "corr-1"
	cause.Hops = 2
	cause.Participants = []string{"/services/meter-simulator", "/services/reading-validator"}
	cause.PartitionKey = "not-the-meter" // the catalog's key property wins
	m, _ := contracts.EncodeBinary(cause)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	m.Headers = append(m.Headers, contracts.Header{Key: "traceparent", Value: []byte("00-" + traceID + "-00f067aa0ba902b7-01")})
	kit.SendRecord(rivers.Record{Topic: "rapids", Key: m.Key, Value: m.Value, Headers: m.Headers})

	recs := kit.PublishedRecords(rivers.Rivers)
	var out *rivers.Record
	for i := range recs {
		if v, _ := contracts.HeaderValue(recs[i].Headers, contracts.HeaderType); string(v) == events.TypeMeterReadingAnomalous {
			out = &recs[i]
		}
	}
	if out == nil {
		t.Fatal("no anomaly published on the rivers topic")
	}
	e, err := contracts.DecodeBinary(out.Message())
	if err != nil {
		t.Fatal(err)
	}
	wantParticipants := "/services/meter-simulator,/services/reading-validator,/services/riverstest,/services/voltage-watch"
	if e.ID == cause.ID || e.CausationID != cause.ID || e.CorrelationID != "corr-1" || e.Hops != 3 ||
		strings.Join(e.Participants, ",") != wantParticipants {
		t.Errorf("lineage: id %s causation %s correlation %s hops %d participants %v", e.ID, e.CausationID, e.CorrelationID, e.Hops, e.Participants)
	}
	if e.Source != "/services/voltage-watch" || e.PartitionKey != "MTR-000417" || string(out.Key) != "MTR-000417" {
		t.Errorf("source %s key %q/%q", e.Source, e.PartitionKey, out.Key)
	}
	if want := kit.Now().Add(90 * time.Minute); !e.ExpiryTime.Equal(want) {
		t.Errorf("expirytime %s, want now + the type's TTL %s", e.ExpiryTime, want)
	}
	if e.DataSchema != catalog.BaseURL+events.TypeMeterReadingAnomalous+".json" {
		t.Errorf("dataschema %q", e.DataSchema)
	}
	tp, _ := contracts.HeaderValue(out.Headers, "traceparent")
	if !strings.Contains(string(tp), traceID) {
		t.Errorf("traceparent %q does not continue trace %s", tp, traceID)
	}
	if err := catalog.Default().Validate(e.Type, e.Data); err != nil {
		t.Errorf("published payload invalid: %v", err)
	}
}

func TestPublishValidatesBeforeSending(t *testing.T) {
	svc, err := rivers.NewService(testConfig("publisher"))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Publish(context.Background(), events.TypeOutageSuspected, map[string]any{}); !errors.Is(err, rivers.ErrStopped) {
		t.Errorf("Publish before Serve: %v, want ErrStopped", err)
	}
	var handlerErr error
	svc.Handle(readingRiver(), func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
		handlerErr = pub.Publish(ctx, events.TypeMeterReadingAnomalous, map[string]any{"meter_id": 7})
		return handlerErr
	})
	kit := riverstest.New(t, svc)
	sendReading(kit, "M1", 230)
	if !errors.Is(handlerErr, rivers.ErrInvalidEvent) || !rivers.IsPermanent(handlerErr) {
		t.Errorf("invalid payload: %v, want a permanent ErrInvalidEvent", handlerErr)
	}
	dls := kit.DeadLetters()
	if len(dls) != 1 || dls[0].Class != rivers.ClassPermanent || !strings.Contains(dls[0].Error, "meter_id") {
		t.Errorf("dead letters %+v: want the cause, permanent, naming the bad property", dls)
	}
	if err := svc.Publish(context.Background(), "made.up.type.v1", map[string]any{"a": 1}); !errors.Is(err, rivers.ErrUnknownType) {
		t.Errorf("unknown type: %v, want ErrUnknownType", err)
	}
	if len(kit.Published(events.TypeMeterReadingAnomalous, "made.up.type.v1")) != 0 {
		t.Error("an invalid event reached the bus")
	}
	// A valid origin event: Publish returns once it is on the bus.
	at := kit.Now().Add(-time.Minute)
	err = svc.Publish(context.Background(), events.TypeMeterReading, reading("M9", 230, at),
		rivers.WithSubject("meter/M9"), rivers.WithTime(at), rivers.WithTTL(-1))
	if err != nil {
		t.Fatal(err)
	}
	got := kit.Published(events.TypeMeterReading)
	if len(got) != 1 || got[0].CausationID != "" || got[0].Hops != 0 || got[0].Subject != "meter/M9" ||
		!got[0].Time.Equal(at) || !got[0].ExpiryTime.IsZero() || got[0].PartitionKey != "TX-0042" { // the catalog's key: the transformer
		t.Errorf("origin event %+v", got)
	}
	if recs := kit.PublishedRecords(rivers.Rapids); len(recs) != 1 {
		t.Errorf("meter.reading.v1 went to %d records on rapids, want 1 (its catalog channel)", len(recs))
	}
	if err := svc.Publish(context.Background(), events.TypeMeterReading, reading("M9", 230, at),
		rivers.ToTopic("custom"), rivers.WithKey("k"), rivers.WithExpiry(at.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	recs := kit.Bus().Records("custom")
	if len(recs) != 1 || string(recs[0].Key) != "k" {
		t.Fatalf("ToTopic/WithKey: %+v", recs)
	}
	if e, _ := contracts.DecodeBinary(recs[0].Message()); !e.ExpiryTime.Equal(at.Add(time.Hour)) {
		t.Errorf("WithExpiry: %s", e.ExpiryTime)
	}
	// WithID: the same conclusion published twice has the same id.
	for range 2 {
		if err := svc.Publish(context.Background(), events.TypeMeterReading, reading("M8", 230, at), rivers.WithID("M8@slot")); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, e := range kit.Published(events.TypeMeterReading) {
		if strings.Contains(string(e.Data), `"meter_id":"M8"`) {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) != 2 || ids[0] != "M8@slot" || ids[1] != "M8@slot" {
		t.Errorf("WithID: ids %q, want M8@slot twice", ids)
	}
}

func TestPublishRidesOutBrokerFailures(t *testing.T) {
	svc, _ := newVoltageWatch(t, testConfig("voltage-watch"))
	kit := riverstest.New(t, svc)
	kit.Bus().FailPublish(errors.New("broker unreachable"), errors.New("not leader"))
	e := sendReading(kit, "M1", 180)
	if got := kit.Published(events.TypeMeterReadingAnomalous); len(got) != 1 || got[0].CausationID != e.ID {
		t.Errorf("after two failed sends: %d anomalies, want 1", len(got))
	}
	if got := kit.Metric(rivers.MetricPublishErrors); got != 2 {
		t.Errorf("publish errors %v, want 2", got)
	}
	// A record the broker can never take: the cause is dead-lettered.
	kit.Bus().FailPublish(rivers.Permanent(errors.New("record too large")), rivers.Permanent(errors.New("record too large")))
	big := sendReading(kit, "M2", 180)
	dls := kit.DeadLetters()
	if len(dls) != 1 || dls[0].Class != rivers.ClassPermanent || !strings.Contains(dls[0].Error, "too large") {
		t.Fatalf("dead letters %+v", dls)
	}
	if v, _ := contracts.HeaderValue(dls[0].Message.Headers, contracts.HeaderID); string(v) != big.ID {
		t.Errorf("dead-lettered %s, want the cause %s", v, big.ID)
	}
	sendReading(kit, "M3", 180)
	if got := len(kit.Published(events.TypeMeterReadingAnomalous)); got != 2 {
		t.Errorf("%d anomalies, want 2: the stream goes on", got)
	}

	// While sends fail the service is not ready; it is again once they pass.
	kit.Bus().FailPublish(errors.New("broker unreachable"), errors.New("broker unreachable"), errors.New("broker unreachable"))
	published := make(chan error, 1)
	go func() {
		published <- svc.Publish(context.Background(), events.TypeMeterReading, reading("M4", 230, kit.Now()))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for err := svc.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "publishing has failed"); err = svc.Ready(context.Background()) {
		if time.Now().After(deadline) {
			t.Fatalf("still ready while the broker refuses publications: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if err := svc.Ready(context.Background()); err != nil {
		t.Errorf("not ready after the outage: %v", err)
	}
}

func TestMiddlewareOrderAndRegistration(t *testing.T) {
	svc, err := rivers.NewService(testConfig("mw"))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	mark := func(name string) rivers.Middleware {
		return func(next rivers.Handler) rivers.Handler {
			return func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
				d, _ := rivers.DeliveryFrom(ctx)
				order = append(order, name+":"+d.River)
				return next(ctx, ev, pub)
			}
		}
	}
	svc.Use(mark("service"))
	svc.Handle(readingRiver(), func(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
		d, _ := rivers.DeliveryFrom(ctx)
		order = append(order, "handler:"+d.Type)
		rivers.Logger(ctx).Debug("handled")
		return nil
	}, mark("river"))
	mustPanic(t, "duplicate river", func() {
		svc.Handle(readingRiver(), func(context.Context, rivers.Event, rivers.Publisher) error { return nil })
	})
	mustPanic(t, "invalid river", func() {
		svc.Handle(rivers.NewRiver(), func(context.Context, rivers.Event, rivers.Publisher) error { return nil })
	})
	mustPanic(t, "zero interval", func() { svc.Every(0, "t", func(context.Context, time.Time, rivers.Publisher) error { return nil }) })
	kit := riverstest.New(t, svc)
	sendReading(kit, "M1", 230)
	if want := "service:readings river:readings handler:meter.reading.v1"; strings.Join(order, " ") != want {
		t.Errorf("order %q, want %q", strings.Join(order, " "), want)
	}
	mustPanic(t, "Handle after start", func() {
		svc.Handle(rivers.NewRiver("a.b.v1"), func(context.Context, rivers.Event, rivers.Publisher) error { return nil })
	})
	mustPanic(t, "Use after start", func() { svc.Use(mark("late")) })
	if err := svc.Serve(context.Background(), riverstest.NewBus()); err == nil {
		t.Error("a second Serve ran")
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

func TestHTTPEndpoints(t *testing.T) {
	svc, _ := newVoltageWatch(t, testConfig("voltage-watch"))
	var dbDown atomic.Bool
	svc.CheckReady("database", func(context.Context) error {
		if dbDown.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	svc.HandleHTTP("/hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hi") }))
	srv := httptest.NewServer(svc.HTTPHandler())
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Serve: %d, want 503", code)
	}
	kit := riverstest.New(t, svc)
	sendReading(kit, "M1", 180)
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get("/readyz")
	var rz struct {
		Ready   bool              `json:"ready"`
		Checks  map[string]string `json:"checks"`
		Retired []string          `json:"retired"`
	}
	if err := json.Unmarshal([]byte(body), &rz); err != nil || code != 200 || !rz.Ready || rz.Checks["database"] != "ok" {
		t.Errorf("/readyz: %d %s", code, body)
	}
	dbDown.Store(true)
	code, body = get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Errorf("/readyz with the database down: %d %s", code, body)
	}
	_, metrics := get("/metrics")
	for _, name := range []string{rivers.MetricEventsIn, rivers.MetricEventsOut, rivers.MetricHandlerDuration + "_bucket",
		rivers.MetricConsumerLag, rivers.MetricLastProcessed, rivers.MetricRecordsSkipped, "go_goroutines"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if strings.Contains(metrics, "M1") {
		t.Error("/metrics carries a meter id")
	}
	if code, body := get("/hello"); code != 200 || body != "hi" {
		t.Errorf("/hello: %d %q", code, body)
	}
}
