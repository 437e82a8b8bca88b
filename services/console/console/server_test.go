package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers/deadletter"
)

func TestPagesNeedSignIn(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	for _, p := range []string{"/", "/services", "/live", "/dlq", "/grid", "/dlq/letter?topic=rivers.dlq&partition=0&offset=0"} {
		resp, _ := c.get(p)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s signed out: %s to %q, want 303 to /login", p, resp.Status, resp.Header.Get("Location"))
		}
	}
	if resp, _ := c.get("/live/stream"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stream signed out: %s, want 401", resp.Status)
	}
	// assets are public: the sign-in page needs them
	if resp, body := c.get("/static/console.css"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "--accent") {
		t.Errorf("css: %s", resp.Status)
	}
}

func TestSignIn(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	resp, body := c.post("/login", "/login", url.Values{"name": {"olga"}, "password": {"wrong"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s", resp.Status)
	}
	wantContains(t, body, "do not match")
	resp, _ = c.post("/login", "/login", url.Values{"name": {"nobody"}, "password": {"secret-pw"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user: %s", resp.Status)
	}
	resp, _ = c.post("/login", "/login", url.Values{"name": {"vic"}, "password": {"secret-pw"}, "next": {"//evil.example/x"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign-in with an off-site next: %s to %q, want / (no open redirect)", resp.Status, resp.Header.Get("Location"))
	}
	resp, body = c.get("/services")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("services after sign-in: %s", resp.Status)
	}
	wantContains(t, body, "vic", "viewer")
	resp, _ = c.post("/services", "/logout", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %s", resp.Status)
	}
	if resp, _ := c.get("/services"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after sign-out: %s, want a redirect to sign in", resp.Status)
	}
}

func TestForgedSessionRefused(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	u, _ := url.Parse(f.srv.URL)
	// a session cookie signed with another key
	other := newAuth(Config{SessionKey: []byte(strings.Repeat("k", 32)), SessionTTL: time.Hour, Users: testUsers(t)})
	rec := &headerRecorder{h: http.Header{}}
	other.setSession(rec, User{Name: "olga", Role: RoleOperator})
	c.hc.Jar.SetCookies(u, (&http.Response{Header: rec.h}).Cookies())
	if resp, _ := c.get("/services"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("forged session: %s, want a redirect to sign in", resp.Status)
	}
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}

func TestCSRF(t *testing.T) {
	f := newFixture(t, false)
	f.letters.dlq = append(f.letters.dlq, letterRecord(t, 1, "usage.interval.v1", "permanent", "boom"))
	c := f.client(t)
	c.login("olga")
	token := c.csrf("/dlq")
	cases := []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no token", url.Values{}, nil},
		{"wrong token", url.Values{"csrf": {"x" + token}}, nil},
		{"cross-site", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"other origin", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "", "Origin": "http://evil.example"}},
	}
	for _, tc := range cases {
		resp, body := c.do(http.MethodPost, "/dlq/replay", tc.form, tc.hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403", tc.name, resp.Status)
		}
		if !strings.Contains(body, "<html") {
			t.Errorf("%s: the refusal is not a page", tc.name)
		}
	}
	// sign-in and sign-out are protected too (login CSRF)
	if resp, _ := c.do(http.MethodPost, "/login", url.Values{"name": {"olga"}, "password": {"secret-pw"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without token: %s", resp.Status)
	}
	if resp, _ := c.do(http.MethodPost, "/logout", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without token: %s", resp.Status)
	}
	if len(f.letters.replayed) != 0 {
		t.Fatalf("refused requests replayed %d letters", len(f.letters.replayed))
	}
	resp, _ := c.do(http.MethodPost, "/dlq/replay", url.Values{"csrf": {token}}, nil)
	if resp.StatusCode != http.StatusSeeOther || len(f.letters.replayed) != 1 {
		t.Fatalf("with the token: %s, %d replayed", resp.Status, len(f.letters.replayed))
	}
}

func TestServicesPage(t *testing.T) {
	f := newFixture(t, false)
	f.grid.Retirement(events.Retirement{Service: "feeder-aggregator", EventType: "transformer.load.v1", Phase: "retired",
		Reason: "no active subscriber for 10m", DecidedAt: time.Now()})
	f.grid.Health(HealthNote{At: time.Now(), Service: "gap-detector", Instance: "gd-1", Detail: "3 heartbeats missed"})
	c := f.client(t)
	c.login("vic")
	resp, body := c.get("/services")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s", resp.Status)
	}
	wantContains(t, body,
		`data-service="feeder-aggregator"`, `data-service="reading-validator"`, `data-service="raw-archiver"`,
		"v1.0.0", "v1.1.0", // versions side by side
		"fa-1", "transformer.load.v1 (retired)",
		`data-type="feeder.load.v1"`, "badge notice", // demand state
		`data-type="transformer.load.v1"`, "no active subscriber for 10m", // retired type with its reason
		"<svg", "passive",
		"gap-detector", "3 heartbeats missed")
	if strings.Contains(body, "unavailable") {
		t.Error("a backend reported unavailable")
	}
}

func TestServicesPageBackendDown(t *testing.T) {
	f := newFixture(t, true)
	c := f.client(t)
	c.login("vic")
	resp, body := c.get("/services")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s", resp.Status)
	}
	wantContains(t, body, "The service map is unavailable", "registry at http://", "502",
		"Demand and retirement states are unavailable", "demand tracker")
}

func TestServicesPageEmpty(t *testing.T) {
	f := newFixture(t, false)
	f.s.back.registry = f.srv.URL + "/nowhere" // 404 → error
	c := f.client(t)
	c.login("vic")
	_, body := c.get("/services")
	wantContains(t, body, "unavailable")
}

func TestLivePageAndStream(t *testing.T) {
	f := newFixture(t, false)
	f.ring.Add(LiveEvent{ID: "e1", Type: "outage.suspected.v1", Source: "/services/outage-detector", Key: "t-0007", Time: time.Now(),
		Summary: "outage suspected on transformer t-0007"})
	f.ring.Add(LiveEvent{ID: "e2", Type: "system.service.up.v1", Source: "/services/heartbeat-monitor", Summary: "registry up"})
	c := f.client(t)
	c.login("vic")
	_, body := c.get("/live")
	wantContains(t, body, "outage suspected on transformer t-0007", `data-stream="/live/stream?after=2"`)
	if strings.Contains(body, "registry up") {
		t.Error("system events shown without asking")
	}
	_, body = c.get("/live?system=on")
	wantContains(t, body, "registry up")
	_, body = c.get("/live?type=feeder.*")
	wantContains(t, body, "No event matching")
	if strings.Contains(body, "t-0007</td>") {
		t.Error("filter by type let another type through")
	}

	// the stream: what the ring holds after ?after=, then new events
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/live/stream?type=outage.*&after=0", nil)
	u, _ := url.Parse(f.srv.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	req.Header.Set("Last-Event-ID", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		f.ring.Add(LiveEvent{ID: "e3", Type: "feeder.load.v1", Summary: "filtered out"})
		f.ring.Add(LiveEvent{ID: "e4", Type: "outage.restored.v1", Summary: "power restored on transformer t-0007"})
	}()
	sc := bufio.NewScanner(resp.Body)
	var got []LiveEvent
	for sc.Scan() && len(got) < 2 {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var e LiveEvent
			if err := json.Unmarshal([]byte(d), &e); err != nil {
				t.Fatal(err)
			}
			got = append(got, e)
		}
	}
	if len(got) != 2 || got[0].ID != "e1" || got[1].ID != "e4" {
		t.Fatalf("stream gave %+v, want e1 (from the ring) then e4", got)
	}
}

func TestDeadLetterPages(t *testing.T) {
	f := newFixture(t, false)
	f.letters.dlq = append(f.letters.dlq,
		letterRecord(t, 1, "usage.interval.v1", "permanent", "boom"),
		letterRecord(t, 2, "usage.interval.v1", "permanent", "boom"),
		letterRecord(t, 3, "feeder.load.v1", "schema", "<script>alert(1)</script>"))
	c := f.client(t)
	c.login("vic")
	_, body := c.get("/dlq")
	wantContains(t, body, "usage.interval.v1", "permanent", "feeder.load.v1", "schema", "<td>2</td>",
		`href="/dlq?error=permanent&amp;type=usage.interval.v1"`,
		`id="replay-all" disabled`, "&lt;script&gt;")
	if strings.Contains(body, "<script>alert") {
		t.Error("a letter's error is not escaped")
	}
	_, body = c.get("/dlq?type=feeder.load.v1")
	wantContains(t, body, "Letters of <code>feeder.load.v1</code>", "Replay 1 event(s)",
		`href="/dlq/letter?offset=2&amp;partition=0&amp;topic=rivers.dlq"`)
	_, body = c.get("/dlq/letter?topic=rivers.dlq&partition=0&offset=0")
	wantContains(t, body, "Dead letter <code>usage.interval.v1</code>", "m-1", "&#34;meter_id&#34;", "dlq_error_class", "0 of at most 3")
	resp, body := c.get("/dlq/letter?topic=rivers.dlq&partition=0&offset=99")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing letter: %s", resp.Status)
	}
	wantContains(t, body, "No dead letter at rivers.dlq partition 0 offset 99")

	f.letters.err = errors.New("dial tcp 127.0.0.1:9: connection refused")
	resp, body = c.get("/dlq")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("topics unreadable: %s", resp.Status)
	}
	wantContains(t, body, "could not be read", "connection refused")
}

func TestDeadLetterEmpty(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	c.login("vic")
	_, body := c.get("/dlq")
	wantContains(t, body, "No dead letters")
}

func TestReplayNeedsOperatorAndKeepsTheLimit(t *testing.T) {
	f := newFixture(t, false)
	f.letters.dlq = append(f.letters.dlq, letterRecord(t, 1, "usage.interval.v1", "permanent", "boom"),
		letterRecord(t, 2, "feeder.load.v1", "schema", "bad"))
	viewer := f.client(t)
	viewer.login("vic")
	resp, body := viewer.post("/dlq", "/dlq/replay", url.Values{"type": {"usage.interval.v1"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer replay: %s", resp.Status)
	}
	wantContains(t, body, "needs the operator role")
	if len(f.letters.replayed) != 0 {
		t.Fatal("a viewer replayed")
	}

	op := f.client(t)
	op.login("olga")
	_, body = op.get("/dlq")
	if strings.Contains(body, `id="replay-all" disabled`) {
		t.Error("the operator's replay button is disabled")
	}
	for i := range 5 {
		resp, _ := op.post("/dlq", "/dlq/replay", url.Values{"type": {"usage.interval.v1"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("replay %d: %s", i, resp.Status)
		}
		if i == 0 {
			loc := resp.Header.Get("Location")
			_, body = op.get(loc)
			wantContains(t, body, "Replayed 1 letter(s)", "<td>1</td>") // the event's replay count
		}
	}
	if len(f.letters.replayed) != deadletter.DefaultReplayLimit {
		t.Fatalf("5 replays sent %d records, want the limit %d", len(f.letters.replayed), deadletter.DefaultReplayLimit)
	}
	for _, r := range f.letters.replayed {
		if r.Topic != "rivers" {
			t.Fatalf("replayed to %q", r.Topic)
		}
	}
	// one event, by its identity
	all, _ := f.letters.Read(context.Background())
	var id string
	for _, l := range all {
		if l.Type == "feeder.load.v1" {
			id = l.Identity
		}
	}
	resp, _ = op.post("/dlq", "/dlq/replay", url.Values{"identity": {id}})
	if resp.StatusCode != http.StatusSeeOther || len(f.letters.replayed) != deadletter.DefaultReplayLimit+1 {
		t.Fatalf("replay of one event: %s, %d replayed", resp.Status, len(f.letters.replayed))
	}
	if got := f.letters.replayed[len(f.letters.replayed)-1]; !strings.Contains(string(got.Value), `"n":2`) {
		t.Fatalf("replayed %s, want the feeder.load.v1 letter", got.Value)
	}
}

func TestGridPage(t *testing.T) {
	f := newFixture(t, false)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.grid.Suspected(events.OutageSuspected{OutageID: "o1", TransformerID: "t-0007", FeederID: "f-01", MetersSilent: []string{"a", "b", "c"},
		MetersTotal: 4, SilentShare: .75, FirstSilentAt: now.Add(-10 * time.Minute), DetectedAt: now})
	f.grid.Suspected(events.OutageSuspected{OutageID: "o2", TransformerID: "t-0009", FeederID: "f-02", MetersTotal: 2, DetectedAt: now.Add(-time.Hour)})
	f.grid.Restored(events.OutageRestored{OutageID: "o2", TransformerID: "t-0009", FeederID: "f-02", RestoredAt: now.Add(-30 * time.Minute), DurationSeconds: 1800})
	for i := range 3 {
		f.grid.Load(events.FeederLoad{Level: "feeder", ID: "f-01", Start: now.Add(time.Duration(i) * 15 * time.Minute), LoadKW: float64(100 + 10*i), EnergyKWh: 25})
	}
	pts := func(kws ...float64) []events.LoadPoint {
		var out []events.LoadPoint
		for i, kw := range kws {
			st := now.Add(time.Duration(i) * time.Hour)
			out = append(out, events.LoadPoint{Start: st, End: st.Add(time.Hour), LoadKW: kw})
		}
		return out
	}
	f.grid.LoadForecast(events.FeederLoadForecast{FeederID: "f-01", Model: "day_type_profile", IssuedAt: now, HistoryHours: 48, Points: pts(130, 171.5, 150)})
	// The baseline's forecast does not replace the preferred model's.
	f.grid.LoadForecast(events.FeederLoadForecast{FeederID: "f-01", Model: "seasonal_naive", IssuedAt: now.Add(time.Hour), HistoryHours: 49, Points: pts(999, 999)})
	c := f.client(t)
	c.login("vic")
	_, body := c.get("/grid")
	wantContains(t, body, "t-0007", "3 of 4 (75%)", "t-0009", "30m0s", "f-01", "120.0 kW", "<polyline",
		"next hour 130.0 kW", "171.5 kW", "day_type_profile")
	if strings.Contains(body, "999") {
		t.Error("the baseline's forecast replaced the preferred model's")
	}
	_, body = c.get("/grid?meter=m-000042")
	wantContains(t, body, `id="meter-state"`, "t-0007", "1234.5 kWh", "229.8 V", "power_restored")
	_, body = c.get("/grid?meter=m-404")
	wantContains(t, body, "The hot pond has no reading of meter m-404")

	down := newFixture(t, true)
	dc := down.client(t)
	dc.login("vic")
	_, body = dc.get("/grid?meter=m-000042")
	wantContains(t, body, "hot pond at http://", "502", "No outage going on", "No feeder.load.v1 seen yet")
}

func TestNotFoundAndHeaders(t *testing.T) {
	f := newFixture(t, false)
	c := f.client(t)
	c.login("vic")
	resp, body := c.get("/nope")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("%s", resp.Status)
	}
	wantContains(t, body, "There is no page at /nope")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}
