package alertrouter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

const secret = "s3cret-for-tests"

// hook is a webhook receiver: it checks signatures and keeps what arrived.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	got    []WebhookPayload
	fail   int // answer 503 to this many requests first
	status int // answer this status to every request when non-zero
	badSig int
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.status != 0 {
			w.WriteHeader(h.status)
			return
		}
		if h.fail > 0 {
			h.fail--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get(HeaderSignature) != "" && !Verify([]byte(secret), r.Header.Get(HeaderTimestamp), body, r.Header.Get(HeaderSignature)) {
			h.badSig++
		}
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body: %v: %s", err, body)
		}
		if r.Header.Get(HeaderNotificationID) != p.ID {
			t.Errorf("notification id header %q, body %q", r.Header.Get(HeaderNotificationID), p.ID)
		}
		h.got = append(h.got, p)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) payloads() []WebhookPayload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

type fixture struct {
	kit   *riverstest.Kit
	svc   *Service
	store Store
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func start(t *testing.T, cfg Config, store Store, opts ...riverstest.Option) fixture {
	t.Helper()
	if store == nil {
		store = NewMemoryStore()
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	if cfg.DLQInterval == 0 {
		cfg.DLQInterval = -1
	}
	rs, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	var kit *riverstest.Kit
	now := func() time.Time { return kit.Now() }
	s, err := Attach(rs, cfg, Options{Store: store, Now: now, Getenv: env(map[string]string{EnvWebhookSecret: secret})})
	if err != nil {
		t.Fatal(err)
	}
	kit = riverstest.New(t, rs, opts...)
	return fixture{kit: kit, svc: s, store: store}
}

func (f fixture) outage(id, tx string, meters ...string) {
	e := f.kit.Event(events.TypeOutageSuspected, events.OutageSuspected{OutageID: id, TransformerID: tx, FeederID: "FDR-07",
		MetersSilent: meters, MetersTotal: 10, SilentShare: float64(len(meters)) / 10, FirstSilentAt: f.kit.Now().Add(-time.Hour),
		DetectedAt: f.kit.Now(), Evidence: events.OutageEvidence{MissedReads: len(meters), WindowSeconds: 3600, ThresholdShare: 0.5}})
	e.PartitionKey = tx
	f.kit.Send(e)
}

func (f fixture) restored(id, tx string) {
	e := f.kit.Event(events.TypeOutageRestored, events.OutageRestored{OutageID: id, TransformerID: tx, FeederID: "FDR-07",
		FirstSilentAt: f.kit.Now().Add(-time.Hour), SuspectedAt: f.kit.Now().Add(-time.Minute), RestoredAt: f.kit.Now(),
		DurationSeconds: 3600, MetersAffected: 3, MetersRestored: 3, DetectedAt: f.kit.Now()})
	e.PartitionKey = tx
	f.kit.Send(e)
}

func (f fixture) missed(meter, tx string, consecutive int) {
	e := f.kit.Event(events.TypeMeterReadingMissed, events.MeterReadingMissed{MeterID: meter, TransformerID: tx, FeederID: "FDR-07",
		ExpectedAt: f.kit.Now().Add(-15 * time.Minute), IntervalSeconds: 900, GraceSeconds: 60, ConsecutiveMissed: consecutive,
		DetectedAt: f.kit.Now()})
	e.PartitionKey = meter
	f.kit.Send(e)
}

func firing(p WebhookPayload) []string {
	var out []string
	for _, a := range p.Alerts {
		if a.State == StateFiring {
			out = append(out, a.Name+":"+a.Labels["transformer_id"]+a.Labels["meter_id"])
		}
	}
	slices.Sort(out)
	return out
}

func TestOutageReachesTheWebhookSignedAndResolves(t *testing.T) {
	h := newHook(t)
	f := start(t, Config{WebhookURL: h.URL, GroupWait: 10 * time.Second}, nil)
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3")
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3") // the same outage again: de-duplicated
	f.kit.Advance(5 * time.Second)
	if n := len(h.payloads()); n != 0 {
		t.Fatalf("%d notifications before group_wait, want 0", n)
	}
	f.kit.Advance(5 * time.Second)
	got := h.payloads()
	if len(got) != 1 {
		t.Fatalf("%d notifications after group_wait, want 1", len(got))
	}
	p := got[0]
	if p.Status != StateFiring || p.Receiver != DefaultReceiver || len(p.Alerts) != 1 || p.Alerts[0].Name != AlertOutage ||
		p.Alerts[0].Labels["transformer_id"] != "TX-1" || p.Alerts[0].Events != 2 || p.Version != "1" {
		t.Fatalf("notification %+v", p)
	}
	if !strings.Contains(p.Alerts[0].Summary, "TX-1") || len(p.Alerts[0].Data) == 0 {
		t.Errorf("alert summary %q, data %s", p.Alerts[0].Summary, p.Alerts[0].Data)
	}
	if h.badSig != 0 {
		t.Errorf("%d bad signatures", h.badSig)
	}
	f.kit.Advance(time.Hour) // no change, repeat interval 4h: nothing
	if n := len(h.payloads()); n != 1 {
		t.Fatalf("%d notifications after an hour without change, want 1", n)
	}
	f.restored("OUT-1", "TX-1")
	f.kit.Advance(2 * time.Minute) // group_interval 1m
	got = h.payloads()
	if len(got) != 2 || got[1].Status != StateResolved || got[1].Alerts[0].State != StateResolved || got[1].Alerts[0].EndsAt.IsZero() {
		t.Fatalf("after restored: %+v", got)
	}
	if n := f.kit.Metric(MetricDeliveries, "outcome", DeliveryDelivered); n != 2 {
		t.Errorf("delivered metric %v, want 2", n)
	}
	alerts := f.svc.Router.Alerts(f.kit.Now())
	if len(alerts) != 1 || alerts[0].State != StateResolved {
		t.Errorf("alerts %+v", alerts)
	}
}

func TestRepeatWhileFiring(t *testing.T) {
	h := newHook(t)
	f := start(t, Config{WebhookURL: h.URL, GroupWait: time.Second, RepeatInterval: 10 * time.Minute}, nil)
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3")
	f.kit.Advance(2 * time.Second)
	f.kit.Advance(10 * time.Minute)
	got := h.payloads()
	if len(got) != 2 || !got[1].Repeat || got[1].ID == got[0].ID {
		t.Fatalf("want the first and one repeat, got %+v", got)
	}
}

func TestOutageInhibitsTheMissedReadsOfItsMeters(t *testing.T) {
	h := newHook(t)
	f := start(t, Config{WebhookURL: h.URL, GroupWait: time.Second}, nil)
	f.missed("M1", "TX-1", 2) // below consecutive_missed>=3: no alert
	f.missed("M1", "TX-1", 3)
	f.missed("M2", "TX-1", 3)
	f.missed("M9", "TX-9", 4) // another transformer: not inhibited
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3")
	f.kit.Advance(2 * time.Second)
	var all []string
	for _, p := range h.payloads() {
		all = append(all, firing(p)...)
	}
	slices.Sort(all)
	want := []string{"meter_silent:TX-9M9", "outage_suspected:TX-1"}
	if !slices.Equal(all, want) {
		t.Fatalf("notified %v, want %v", all, want)
	}
	var inhibited []string
	for _, a := range f.svc.Router.Alerts(f.kit.Now()) {
		if a.Inhibited {
			inhibited = append(inhibited, a.Labels["meter_id"])
		}
	}
	slices.Sort(inhibited)
	if !slices.Equal(inhibited, []string{"M1", "M2"}) {
		t.Errorf("inhibited %v, want [M1 M2]", inhibited)
	}
	// The outage ends; the meters are still silent: now someone must know.
	f.restored("OUT-1", "TX-1")
	f.kit.Advance(2 * time.Minute)
	var after []string
	for _, p := range h.payloads()[2:] {
		after = append(after, firing(p)...)
	}
	if !slices.Contains(after, "meter_silent:TX-1M1") {
		t.Errorf("after the outage ended, notified %v: want the silent meters of TX-1", after)
	}
}

func TestSilenceFromTheAPI(t *testing.T) {
	h := newHook(t)
	f := start(t, Config{WebhookURL: h.URL, GroupWait: time.Second}, nil)
	api := httptest.NewServer(Routes(f.svc.Router, f.kit.Now))
	defer api.Close()
	resp, err := http.Post(api.URL+"/v1/silences", "application/json",
		strings.NewReader(`{"matchers":["transformer_id=\"TX-1\""],"duration":"2h","created_by":"test","comment":"planned work"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sil Silence
	_ = json.NewDecoder(resp.Body).Decode(&sil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || sil.ID == "" {
		t.Fatalf("POST /v1/silences: %s %+v", resp.Status, sil)
	}
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3")
	f.outage("OUT-2", "TX-2", "M4", "M5", "M6")
	f.kit.Advance(2 * time.Second)
	got := h.payloads()
	if len(got) != 1 || len(got[0].Alerts) != 1 || got[0].Alerts[0].Labels["transformer_id"] != "TX-2" {
		t.Fatalf("notified %+v, want only TX-2's outage", got)
	}
	resp, err = http.Get(api.URL + "/v1/alerts?state=firing")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Alerts []Alert }
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	silenced := 0
	for _, a := range list.Alerts {
		if len(a.SilencedBy) == 1 && a.SilencedBy[0] == sil.ID {
			silenced++
		}
	}
	if len(list.Alerts) != 2 || silenced != 1 {
		t.Fatalf("alerts %+v", list.Alerts)
	}
	// Expire it: the muted outage is notified now.
	req, _ := http.NewRequest(http.MethodDelete, api.URL+"/v1/silences/"+sil.ID, nil)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("DELETE silence: %v %v", resp, err)
	}
	resp.Body.Close()
	f.kit.Advance(2 * time.Minute)
	got = h.payloads()
	if len(got) != 2 || firing(got[1])[0] != "outage_suspected:TX-1" {
		t.Fatalf("after expiry %+v", got)
	}
	// A bad silence says what is wrong.
	resp, _ = http.Post(api.URL+"/v1/silences", "application/json", strings.NewReader(`{"matchers":["transformer_id"],"duration":"1h","created_by":"x"}`))
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "want name=") {
		t.Errorf("bad matcher: %s %s", resp.Status, b)
	}
}

func TestUnreachableReceiverIsRetriedThenDeadLettered(t *testing.T) {
	h := newHook(t)
	h.fail = 2 // two 503s, then fine
	f := start(t, Config{WebhookURL: h.URL, GroupWait: time.Second, DeliveryBackoff: 10 * time.Second, DeliveryAttempts: 3}, nil)
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3")
	f.kit.Advance(time.Second) // attempt 1 fails
	f.kit.Advance(5 * time.Second)
	if len(h.payloads()) != 0 || len(f.svc.Router.Pending(false)) != 1 {
		t.Fatalf("before the backoff: got %d, outbox %d", len(h.payloads()), len(f.svc.Router.Pending(false)))
	}
	f.kit.Advance(5 * time.Second)  // attempt 2 (10s after 1) fails, next in 20s
	f.kit.Advance(20 * time.Second) // attempt 3 succeeds
	if len(h.payloads()) != 1 {
		t.Fatalf("after retries: %d delivered, want 1", len(h.payloads()))
	}
	ds, _ := f.svc.Router.Deliveries(t.Context(), 10)
	var st []string
	for _, d := range ds {
		st = append(st, d.Status)
	}
	if !slices.Equal(st, []string{DeliveryDelivered, DeliveryRetrying, DeliveryRetrying}) {
		t.Errorf("history %v", st)
	}

	// Now a receiver that is gone for good: 3 attempts, then dead, kept.
	h.Close()
	f.outage("OUT-2", "TX-2", "M4", "M5", "M6")
	f.kit.Advance(2 * time.Minute) // group_interval
	f.kit.Advance(time.Minute)
	dead := f.svc.Router.Pending(true)
	if len(dead) != 1 || dead[0].Attempts != 3 || !strings.Contains(dead[0].LastError, "POST") {
		t.Fatalf("dead %+v", dead)
	}
	if n := f.kit.Metric(MetricDeliveries, "outcome", DeliveryDead); n != 1 {
		t.Errorf("dead metric %v", n)
	}
	// Back again: retry from the API.
	h2 := newHook(t)
	f.svc.Router.senders[DefaultReceiver].(*webhookSender).url = h2.URL
	if err := f.svc.Router.Retry(t.Context(), f.kit.Now(), dead[0].ID); err != nil {
		t.Fatal(err)
	}
	f.kit.Advance(time.Second)
	if got := h2.payloads(); len(got) != 1 || got[0].ID != dead[0].ID {
		t.Fatalf("retried: %+v", got)
	}
}

func TestPermanentRefusalIsDeadAtOnce(t *testing.T) {
	h := newHook(t)
	h.status = http.StatusUnauthorized
	f := start(t, Config{WebhookURL: h.URL, GroupWait: time.Second}, nil)
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3")
	f.kit.Advance(time.Second)
	if dead := f.svc.Router.Pending(true); len(dead) != 1 || dead[0].Attempts != 1 || !strings.Contains(dead[0].LastError, "401") {
		t.Fatalf("dead %+v", dead)
	}
}

func TestEventWithoutItsKeyIsDeadLettered(t *testing.T) {
	// A type the catalog does not know (no schema to catch it): an event
	// without the alert's key reaches the router, which refuses it.
	p := filepath.Join(t.TempDir(), "rules.yaml")
	_ = os.WriteFile(p, []byte("alerts:\n  - name: usage_high\n    type: usage.alert.v1\n    key: [meter_id]\n"), 0o600)
	f := start(t, Config{RulesFile: p}, nil)
	f.kit.Send(f.kit.Event("usage.alert.v1", map[string]any{"kwh": 99}))
	dl := f.kit.DeadLetters()
	if len(dl) != 1 || !strings.Contains(dl[0].Error, "lacks key field") {
		t.Fatalf("dead letters %+v", dl)
	}
	if n := f.kit.Metric(MetricInvalid, "reason", "key_missing"); n < 1 {
		t.Errorf("invalid metric %v", n)
	}
	if n := f.kit.Metric(rivers.MetricEventsDead, "class", "permanent"); n != 1 {
		t.Errorf("dead-lettered metric %v, want 1", n)
	}
}

func TestRestartNeitherLosesNorResends(t *testing.T) { testRestart(t, NewMemoryStore()) }

// testRestart runs the service, stops it with one alert notified and one
// pending, and starts a new one on the same store.
func testRestart(t *testing.T, store Store) {
	h := newHook(t)
	cfg := Config{WebhookURL: h.URL, GroupWait: time.Second}
	f := start(t, cfg, store)
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3")
	f.kit.Advance(time.Second)
	if len(h.payloads()) != 1 {
		t.Fatalf("first run: %d notifications", len(h.payloads()))
	}
	f.outage("OUT-2", "TX-2", "M4", "M5", "M6") // raised, not yet notified
	if err := f.kit.Stop(); err != nil {
		t.Fatal(err)
	}

	g := start(t, cfg, store, riverstest.WithClock(riverstest.NewClock(f.kit.Now())))
	if n := len(g.svc.Router.Alerts(g.kit.Now())); n != 2 {
		t.Fatalf("after restart %d alerts, want 2", n)
	}
	g.kit.Advance(2 * time.Minute)
	got := h.payloads()
	if len(got) != 2 {
		t.Fatalf("after restart %d notifications, want 2 (no re-send of the first)", len(got))
	}
	if fs := firing(got[1]); !slices.Contains(fs, "outage_suspected:TX-2") {
		t.Errorf("second notification %v", fs)
	}
}

func TestRulesFileRoutesGroupsAndSubscribesToItsTypes(t *testing.T) {
	ops, grid := newHook(t), newHook(t)
	dir := t.TempDir()
	rules := `
alerts:
  - name: command_failed_again
    type: meter.command.outcome.v1
    when: ['outcome="failed"', 'attempts>=5']
    key: [command_id]
    labels: [meter_id, data.reason]
    severity: critical
    summary: "command {command_id} to {meter_id} failed {attempts} times: {data.reason}"
receivers:
  - name: grid
    webhook: {url: ` + grid.URL + `, secret_env: ALERT_WEBHOOK_SECRET}
  - name: ops
    webhook: {url: ` + ops.URL + `}
routes:
  - name: outages-by-feeder
    match: ['alertname="outage_suspected"']
    receivers: [grid]
    group_by: [feeder_id]
    group_wait: 1s
  - name: everything-else
    receivers: [ops]
    group_wait: 1s
`
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	f := start(t, Config{RulesFile: path}, nil)
	hb := f.kit.Heartbeat()
	var subscribed []string
	for _, s := range hb.Subscribes {
		subscribed = append(subscribed, s.Types...)
	}
	for _, typ := range []string{"meter.command.outcome.v1", events.TypeOutageSuspected, events.TypeOutageRestored,
		events.TypeServiceDown, events.TypeServiceUp, events.TypeClockSkew, events.TypeMeterReadingMissed} {
		if !slices.Contains(subscribed, typ) {
			t.Errorf("heartbeat does not subscribe to %s: %v", typ, subscribed)
		}
	}
	f.outage("OUT-1", "TX-1", "M1", "M2", "M3")
	f.outage("OUT-2", "TX-2", "M4", "M5", "M6") // same feeder: one group
	cmd := func(id, outcome string) {
		e := f.kit.Event("meter.command.outcome.v1", map[string]any{"command_id": id, "meter_id": "M7", "command": "read_now",
			"outcome": outcome, "reason": "no ack after 5 tries", "attempts": 5, "max_attempts": 5,
			"requested_by": "/services/gap-detector", "requested_at": "2026-03-02T10:00:00Z", "decided_at": "2026-03-02T10:05:00Z"})
		e.PartitionKey = "M7"
		f.kit.Send(e)
	}
	cmd("CMD-1", "acknowledged")
	cmd("CMD-2", "failed")
	f.kit.Advance(time.Second)
	g, o := grid.payloads(), ops.payloads()
	if len(g) != 1 || len(g[0].Alerts) != 2 || g[0].GroupLabels["feeder_id"] != "FDR-07" {
		t.Fatalf("grid got %+v", g)
	}
	// The built-in command_failed and the file's own alert on the same
	// event: one group per alert name on the catch-all route.
	var names []string
	for _, p := range o {
		for _, a := range p.Alerts {
			names = append(names, a.Name+": "+a.Summary)
		}
	}
	slices.Sort(names)
	want := []string{"command_failed: command CMD-2 to meter M7 failed: no ack after 5 tries",
		"command_failed_again: command CMD-2 to M7 failed 5 times: no ack after 5 tries"}
	if !slices.Equal(names, want) {
		t.Fatalf("ops got %q, want %q", names, want)
	}
}

func TestBadRulesFailAtStartSayingWhatToFix(t *testing.T) {
	cases := map[string]string{
		"receivers:\n  - name: x\n    webhok: {url: http://x}\n":                                                 "field webhok not found",
		"routes:\n  - receivers: [nobody]\n":                                                                     `unknown receiver "nobody"`,
		"alerts:\n  - name: Bad Name\n    type: x\n":                                                             "use lower-case letters",
		"alerts:\n  - name: a\n    type: a.b.v1\n    key: [type]\n":                                              "name a data field",
		"routes:\n  - receivers: [r]\n    match: ['x~1']\nreceivers:\n  - name: r\n    slack: {url: http://s}\n": "want name=",
		"alerts:\n  - name: a\n    type: a.b.v1\n    resolve_after: soon\n":                                      "not a duration",
		"inhibit:\n  - source: ['a=\"1\"']\n":                                                                    "need at least one matcher",
	}
	for text, want := range cases {
		dir := t.TempDir()
		p := filepath.Join(dir, "rules.yaml")
		_ = os.WriteFile(p, []byte(text), 0o600)
		_, err := LoadRules(p, Config{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("rules %q: error %v, want it to name the file and say %q", text, err, want)
		}
	}
	if _, err := LoadRules(filepath.Join(t.TempDir(), "missing.yaml"), Config{}); err == nil || !strings.Contains(err.Error(), EnvRulesFile) {
		t.Errorf("missing file: %v", err)
	}
	// A receiver's secret variable that is unset fails Attach.
	dir := t.TempDir()
	p := filepath.Join(dir, "rules.yaml")
	_ = os.WriteFile(p, []byte("receivers:\n  - name: r\n    webhook: {url: http://x, secret_env: NOT_SET_ANYWHERE}\nroutes:\n  - receivers: [r]\n"), 0o600)
	rs, _ := rivers.NewService(rivers.Config{Name: Name, HTTPAddr: "off", LogLevel: "error"})
	if _, err := Attach(rs, Config{RulesFile: p, Store: StoreMemory}, Options{Getenv: env(nil)}); err == nil || !strings.Contains(err.Error(), "NOT_SET_ANYWHERE") {
		t.Errorf("unset secret_env: %v", err)
	}
}

func TestDLQGrowthRaisesAndQuietResolves(t *testing.T) {
	h := newHook(t)
	var mu sync.Mutex
	sizes := map[string]int64{"rivers.dlq": 5, "rapids.dlq": 0}
	sizer := func(_ context.Context, topics []string) (map[string]int64, error) {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int64{}
		for _, t := range topics {
			out[t] = sizes[t]
		}
		return out, nil
	}
	rs, _ := rivers.NewService(rivers.Config{Name: Name, HTTPAddr: "off", LogLevel: "error"})
	s, err := Attach(rs, Config{WebhookURL: h.URL, GroupWait: time.Second, DLQInterval: 30 * time.Second, DLQQuiet: 2 * time.Minute,
		DLQTopics: []string{"rivers.dlq", "rapids.dlq"}}, Options{Store: NewMemoryStore(), DLQSizer: sizer, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	kit := riverstest.New(t, rs)
	kit.Advance(30 * time.Second) // baseline: old letters raise nothing
	kit.Advance(30 * time.Second)
	if len(h.payloads()) != 0 {
		t.Fatalf("alert on old letters: %+v", h.payloads())
	}
	mu.Lock()
	sizes["rivers.dlq"] = 9
	mu.Unlock()
	kit.Advance(31 * time.Second)
	got := h.payloads()
	if len(got) != 1 || got[0].Alerts[0].Name != AlertDLQGrowing || got[0].Alerts[0].Labels["topic"] != "rivers.dlq" ||
		!strings.Contains(got[0].Alerts[0].Summary, "4 new letters") {
		t.Fatalf("dlq alert %+v", got)
	}
	kit.Advance(4 * time.Minute) // quiet: resolved
	got = h.payloads()
	if len(got) != 2 || got[1].Status != StateResolved {
		t.Fatalf("after quiet %+v", got)
	}
	_ = s
}
