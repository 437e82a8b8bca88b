package rivers_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
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

func retirement(kit *riverstest.Kit, service, typ, phase string, grace time.Duration) {
	now := kit.Now()
	kit.Send(kit.Event(events.TypeRetirement, events.Retirement{
		Service: service, EventType: typ, Phase: phase, GraceSeconds: grace.Seconds(),
		EffectiveAt: now.Add(grace), Reason: "no non-passive subscriber for 24h", DecidedAt: now,
	}))
}

func TestRetirementWithholdsAndResumes(t *testing.T) {
	var logs riverstest.Buffer
	svc, _ := newVoltageWatch(t, testConfig("voltage-watch"), rivers.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	kit := riverstest.New(t, svc)
	anomalies := func() int { return len(kit.Published(events.TypeMeterReadingAnomalous)) }

	sendReading(kit, "M1", 180)
	if anomalies() != 1 {
		t.Fatalf("%d anomalies before retirement, want 1", anomalies())
	}
	// Decisions for other services and for system types change nothing.
	retirement(kit, "someone-else", events.TypeMeterReadingAnomalous, events.PhaseRetired, 0)
	retirement(kit, "voltage-watch", events.TypeHeartbeat, events.PhaseRetired, 0)
	sendReading(kit, "M2", 180)
	if anomalies() != 2 || len(svc.Retired()) != 0 {
		t.Fatalf("%d anomalies, retired %v: decisions not for this service, or for a system type, applied", anomalies(), svc.Retired())
	}

	retirement(kit, "voltage-watch", events.TypeMeterReadingAnomalous, events.PhaseRetired, 0)
	sendReading(kit, "M3", 180)
	if anomalies() != 2 {
		t.Errorf("%d anomalies after retirement, want still 2", anomalies())
	}
	if got := kit.Metric(rivers.MetricEventsWithheld, "type", events.TypeMeterReadingAnomalous); got != 1 {
		t.Errorf("withheld %v, want 1", got)
	}
	if len(kit.DeadLetters()) != 0 {
		t.Error("a handler returning ErrRetired was dead-lettered")
	}
	kit.Advance(5 * time.Second)
	hb := kit.Heartbeat()
	if !slices.Equal(hb.Retired, []string{events.TypeMeterReadingAnomalous}) || slices.Contains(hb.Publishes, events.TypeMeterReadingAnomalous) {
		t.Errorf("heartbeat retired %v publishes %v", hb.Retired, hb.Publishes)
	}
	rec := httptest.NewRecorder()
	svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var rz struct {
		Retired  []string          `json:"retired"`
		Retiring []rivers.Retiring `json:"retiring"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &rz); err != nil || !slices.Equal(rz.Retired, []string{events.TypeMeterReadingAnomalous}) ||
		len(rz.Retiring) != 1 || rz.Retiring[0].Phase != events.PhaseRetired {
		t.Errorf("/readyz detail %s", rec.Body)
	}
	if err := svc.Publish(context.Background(), events.TypeMeterReadingAnomalous, map[string]any{}); !errors.Is(err, rivers.ErrRetired) {
		t.Errorf("Publish of a retired type: %v, want ErrRetired", err)
	}

	retirement(kit, "voltage-watch", events.TypeMeterReadingAnomalous, events.PhaseReinstated, 0)
	sendReading(kit, "M4", 180)
	if anomalies() != 3 || len(svc.Retired()) != 0 {
		t.Errorf("%d anomalies after reinstatement (want 3), retired %v", anomalies(), svc.Retired())
	}

	// A notice: publishing goes on through the grace period, then stops.
	retirement(kit, "voltage-watch", events.TypeMeterReadingAnomalous, events.PhaseNotice, time.Minute)
	noticeAt := kit.Now()
	sendReading(kit, "M5", 180)
	if anomalies() != 4 {
		t.Errorf("%d anomalies during the grace period, want 4", anomalies())
	}
	// The team hears of it before it happens: in the log, the heartbeat
	// (so in the registry and `watershed services`) and /readyz.
	if !strings.Contains(logs.String(), `"msg":"retirement notice: nothing subscribes to this event type`) ||
		!strings.Contains(logs.String(), `"event_type":"`+events.TypeMeterReadingAnomalous+`"`) {
		t.Errorf("no retirement-notice warning in the log:\n%s", logs.String())
	}
	hb = svc.Heartbeat(context.Background())
	if len(hb.Retiring) != 1 || hb.Retiring[0].Type != events.TypeMeterReadingAnomalous || !hb.Retiring[0].EffectiveAt.Equal(noticeAt.Add(time.Minute)) ||
		hb.Retiring[0].Reason == "" || len(hb.Retired) != 0 {
		t.Errorf("heartbeat during the notice: retiring %+v, retired %v", hb.Retiring, hb.Retired)
	}
	if err := catalog.Default().Validate(events.TypeHeartbeat, mustJSON(t, hb)); err != nil {
		t.Errorf("heartbeat with a notice does not match its schema: %v", err)
	}
	kit.Advance(61 * time.Second)
	sendReading(kit, "M6", 180)
	if anomalies() != 4 || !slices.Equal(svc.Retired(), []string{events.TypeMeterReadingAnomalous}) {
		t.Errorf("%d anomalies after the grace period (want 4), retired %v", anomalies(), svc.Retired())
	}
}

func TestHeartbeatAndLifecycleEvents(t *testing.T) {
	cfg := testConfig("voltage-watch")
	svc, _ := newVoltageWatch(t, cfg)
	svc.Handle(rivers.NewRiver("system.service.*").Named("lifecycle-tap").Passive(),
		func(context.Context, rivers.Event, rivers.Publisher) error { return nil })
	kit := riverstest.New(t, svc)
	started := kit.Published(events.TypeServiceStarted)
	if len(started) != 1 {
		t.Fatalf("%d started events, want 1", len(started))
	}
	var st events.ServiceStarted
	if err := json.Unmarshal(started[0].Data, &st); err != nil || st.Service != "voltage-watch" || st.Instance != cfg.Instance ||
		st.Version != "1.2.3" || !st.StartedAt.Equal(riverstest.Start) || st.Pid == 0 {
		t.Errorf("started %+v (%v)", st, err)
	}
	sendReading(kit, "M1", 180)
	// The tap handles the started event on the rivers on its own: wait
	// until it is done with it (committed), so the heartbeat at 5s counts it
	// and dates it at the start.
	var startedAt int64 = -1
	for _, r := range kit.PublishedRecords(rivers.Rivers) {
		if v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType); string(v) == events.TypeServiceStarted {
			startedAt = r.Offset
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kit.Bus().WaitCommitted(ctx, cfg.Name, "rivers", startedAt); startedAt < 0 || err != nil {
		t.Fatalf("the started event (offset %d) was not handled: %v", startedAt, err)
	}
	kit.Advance(5 * time.Second)
	hbs := kit.Published(events.TypeHeartbeat)
	if len(hbs) != 2 {
		t.Fatalf("%d heartbeats after one interval, want 2 (at start and after 5s)", len(hbs))
	}
	last := hbs[len(hbs)-1]
	if err := catalog.Default().Validate(last.Type, last.Data); err != nil {
		t.Errorf("heartbeat does not match its schema: %v", err)
	}
	if last.PartitionKey != "voltage-watch" || !last.ExpiryTime.Equal(last.Time.Add(15*time.Second)) {
		t.Errorf("heartbeat key %q, use-by %s after %s; want the service name and 3 intervals", last.PartitionKey, last.ExpiryTime, last.Time)
	}
	// The pipeline decodes one record ahead on its own goroutine: let it
	// settle (bounded) before reading the counters.
	hb := kit.Heartbeat()
	for deadline := time.Now().Add(10 * time.Second); hb.ProcessedTotal < 2 && time.Now().Before(deadline); hb = kit.Heartbeat() {
		time.Sleep(5 * time.Millisecond)
	}
	if hb.Service != "voltage-watch" || hb.Version != "1.2.3" || hb.Instance != cfg.Instance || hb.UptimeSeconds != 5 ||
		hb.IntervalSeconds != 5 || !hb.Ready || hb.LagRecords > 2 || hb.ProcessedTotal != 2 || // the reading and, by the tap, the started event
		!hb.LastProcessedAt.Equal(riverstest.Start) || !slices.Equal(hb.Publishes, []string{events.TypeMeterReadingAnomalous}) {
		t.Errorf("heartbeat %+v", hb)
	}
	subs := map[string]events.Subscription{}
	for _, s := range hb.Subscribes {
		subs[strings.Join(s.Types, ",")] = s
	}
	readings := subs[events.TypeMeterReading]
	if readings.Topic != "rapids" || readings.Group != "voltage-watch" || readings.Passive ||
		!slices.Contains(readings.Require, "voltage_v") || !slices.Equal(readings.Interested, []string{"flags"}) {
		t.Errorf("readings subscription %+v", readings)
	}
	retire := subs[events.TypeRetirement]
	if retire.Topic != "rivers" || retire.RequireValues["service"] != "voltage-watch" {
		t.Errorf("retirement subscription %+v", retire)
	}
	var tap *events.Subscription
	for i, s := range hb.Subscribes {
		if slices.Contains(s.Types, events.TypeServiceStarted) {
			tap = &hb.Subscribes[i]
		}
	}
	if tap == nil || !tap.Passive || !slices.Contains(tap.Types, events.TypeServiceStopping) || slices.Contains(tap.Types, events.TypeHeartbeat) {
		t.Errorf("pattern river system.service.* in heartbeat: %+v", tap)
	}

	if err := kit.Stop(); err != nil {
		t.Fatal(err)
	}
	stopping := kit.Published(events.TypeServiceStopping)
	var sp events.ServiceStopping
	if len(stopping) != 1 || json.Unmarshal(stopping[0].Data, &sp) != nil || sp.Reason == "" || sp.UptimeSeconds != 5 ||
		sp.DrainTimeoutSeconds != cfg.ShutdownTimeout.Seconds() && sp.DrainTimeoutSeconds != rivers.DefaultShutdownTimeout.Seconds() {
		t.Errorf("stopping events %d: %+v", len(stopping), sp)
	}
}

func TestTimers(t *testing.T) {
	cfg := testConfig("usage-aggregator")
	cfg.HeartbeatInterval = time.Hour // this test is about its own timers
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var flushes, once, panics atomic.Int32
	var ticks []time.Time
	svc.Every(15*time.Minute, "flush", func(ctx context.Context, now time.Time, pub rivers.Publisher) error {
		flushes.Add(1)
		ticks = append(ticks, now)
		d, _ := rivers.DeliveryFrom(ctx)
		if d.Timer != "flush" {
			t.Errorf("delivery %+v", d)
		}
		return pub.Publish(ctx, events.TypeUsageInterval, events.UsageInterval{
			MeterID: "M1", TransformerID: "TX-1", FeederID: "F-1", Period: events.PeriodHour,
			Start: now.Add(-time.Hour), End: now, EnergyKWh: 1.5, Reads: 4, ReadsExpected: 4,
		})
	})
	svc.After(time.Minute, "warm-up", func(context.Context, time.Time, rivers.Publisher) error { once.Add(1); return nil })
	svc.Every(time.Hour, "broken", func(context.Context, time.Time, rivers.Publisher) error {
		panics.Add(1)
		panic("timer bug")
	})
	kit := riverstest.New(t, svc)
	kit.Advance(time.Minute)
	if once.Load() != 1 || flushes.Load() != 0 {
		t.Fatalf("after 1m: warm-up %d flush %d", once.Load(), flushes.Load())
	}
	kit.Advance(14 * time.Minute)
	if flushes.Load() != 1 {
		t.Fatalf("after 15m: flush ran %d times", flushes.Load())
	}
	kit.Advance(45 * time.Minute)
	if flushes.Load() != 4 || once.Load() != 1 || panics.Load() != 1 {
		t.Fatalf("after 1h: flush %d (want 4), warm-up %d (want 1), broken %d (want 1)", flushes.Load(), once.Load(), panics.Load())
	}
	for i, at := range ticks {
		if want := riverstest.Start.Add(time.Duration(i+1) * 15 * time.Minute); !at.Equal(want) {
			t.Errorf("tick %d at %s, want %s", i, at, want)
		}
	}
	usage := kit.Published(events.TypeUsageInterval)
	if len(usage) != 4 || usage[0].CausationID != "" || usage[0].Hops != 0 || usage[0].PartitionKey != "M1" {
		t.Errorf("timer publications: %d, first %+v", len(usage), usage)
	}
	if got := kit.Metric(rivers.MetricTimerRuns, "timer", "flush", "outcome", "ok"); got != 4 {
		t.Errorf("flush runs metric %v, want 4", got)
	}
	if got := kit.Metric(rivers.MetricTimerRuns, "timer", "broken", "outcome", "error"); got != 1 {
		t.Errorf("broken runs metric %v, want 1 failed run", got)
	}
	kit.Advance(time.Hour)
	if panics.Load() != 2 {
		t.Errorf("the panicking timer stopped being scheduled: %d runs", panics.Load())
	}
}

func TestExpiredHook(t *testing.T) {
	svc, err := rivers.NewService(testConfig("expiry"))
	if err != nil {
		t.Fatal(err)
	}
	var expired []contracts.Event
	var handled atomic.Int32
	svc.Handle(readingRiver().OnExpired(func(_ context.Context, e contracts.Event) { expired = append(expired, e) }),
		func(context.Context, rivers.Event, rivers.Publisher) error { handled.Add(1); return nil })
	kit := riverstest.New(t, svc)
	e := kit.Event(events.TypeMeterReading, reading("M1", 230, kit.Now()))
	e.ExpiryTime = kit.Now().Add(time.Minute)
	kit.Advance(2 * time.Minute)
	kit.Send(e, riverstest.OnTopic(rivers.Rapids))
	if len(expired) != 1 || expired[0].ID != e.ID || handled.Load() != 0 {
		t.Errorf("expired hook got %d events, handler ran %d times", len(expired), handled.Load())
	}
}

// A handler that ignores its context cannot hold the service past
// SHUTDOWN_TIMEOUT: Serve returns with an error saying so.
func TestShutdownDeadlineBoundsAStuckHandler(t *testing.T) {
	cfg := testConfig("stuck")
	cfg.ShutdownTimeout = 100 * time.Millisecond
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	svc.Handle(readingRiver(), func(context.Context, rivers.Event, rivers.Publisher) error {
		close(entered)
		<-release // ignores ctx
		return nil
	})
	bus := riverstest.NewBus()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- svc.Serve(ctx, bus) }()
	e, _ := contracts.New(riverstest.Source, events.TypeMeterReading, reading("M1", 230, time.Now()))
	m, _ := contracts.EncodeBinary(e)
	if _, err := bus.Append(rivers.Record{Topic: "rapids", Key: m.Key, Value: m.Value, Headers: m.Headers}); err != nil {
		t.Fatal(err)
	}
	<-entered
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT") {
			t.Errorf("Serve returned %v, want an error naming SHUTDOWN_TIMEOUT", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its shutdown deadline")
	}
	if c := bus.Committed("stuck", "rapids"); c != 0 {
		t.Errorf("committed offset %d: the stuck event must be redelivered", c)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// last_processed_at says when a handler last processed an event: records
// no river wants are committed, not processed, and leave it alone (they
// moved it, and TestHeartbeatAndLifecycleEvents then saw the start-up
// heartbeat's commit, which came after the clock moved, as processing).
func TestLastProcessedIgnoresRecordsNoRiverWants(t *testing.T) {
	svc, _ := newVoltageWatch(t, testConfig("voltage-watch"))
	kit := riverstest.New(t, svc)
	sendReading(kit, "M1", 180)
	kit.Advance(5 * time.Second)
	kit.Send(kit.Event(events.TypeOutageRestored, map[string]any{"transformer_id": "TX-1"})) // no river of voltage-watch reads it
	if got := svc.Heartbeat(context.Background()).LastProcessedAt; !got.Equal(riverstest.Start) {
		t.Errorf("last processed at %s, want %s (the reading's handling, not the unwanted record's commit)", got, riverstest.Start)
	}
}
