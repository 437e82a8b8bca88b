package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// alertsFixture is a fixture whose clock is the recorded alerts' time.
func alertsFixture(t *testing.T, down bool) *fixture {
	f := newFixture(t, down)
	f.s.now = func() time.Time { return alertsNow }
	return f
}

func TestAlertsPageViewer(t *testing.T) {
	f := alertsFixture(t, false)
	c := f.client(t)
	c.login("vic")
	resp, body := c.get("/alerts")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s", resp.Status)
	}
	wantContains(t, body,
		`id="alerts-firing"`, "suspected outage on transformer TX-0042 (feeder FDR-07)", "transformer_id=TX-0042",
		"meter M9 (transformer TX-0042)", `<span class="badge wait">inhibited</span>`, // the outage inhibits its meter's alert
		"default-webhook", // the receiver of the alerts' route
		`id="alerts-resolved"`, "suspected outage on transformer TX-0007",
		`data-silence="b3c128ab78e761ae"`, `<span class="badge active">active</span>`, "transformer_id=&#34;TX-9&#34;", "planned work", "olga",
		`id="viewer-note"`, `aria-current="page">Alerts`)
	// a viewer is shown no action at all
	for _, no := range []string{`action="/alerts/silences"`, "/expire", "silence…"} {
		if strings.Contains(body, no) {
			t.Errorf("the viewer's page has %q", no)
		}
	}
}

func TestAlertsPageOperator(t *testing.T) {
	f := alertsFixture(t, false)
	c := f.client(t)
	c.login("olga")
	_, body := c.get("/alerts")
	wantContains(t, body, `id="silence-form"`, `action="/alerts/silences"`, `action="/alerts/silences/b3c128ab78e761ae/expire"`,
		`name="csrf"`, "Made as olga", "silence…")
	// a firing alert's link fills the form with its labels
	_, body = c.get("/alerts?matchers=" + url.QueryEscape(matchersOf(map[string]string{"alertname": "outage_suspected", "transformer_id": "TX-0042"})))
	wantContains(t, body, "alertname=&#34;outage_suspected&#34;\ntransformer_id=&#34;TX-0042&#34;")
}

func TestAlertsBackendDown(t *testing.T) {
	f := alertsFixture(t, true)
	c := f.client(t)
	c.login("olga")
	resp, body := c.get("/alerts")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s", resp.Status)
	}
	wantContains(t, body, `id="alerts-error"`, "Alerts and silences are unavailable", "alert-router at http://", "502")
	if strings.Contains(body, `id="silence-form"`) {
		t.Error("a silence form is offered while the alert-router is down")
	}
	resp, body = c.post("/services", "/alerts/silences", url.Values{"matchers": {`alertname="x"`}, "duration": {"1h"}, "comment": {"c"}})
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("silence with the alert-router down: %s", resp.Status)
	}
	wantContains(t, body, "Nothing was silenced", "alert-router at http://")
}

func TestAlertsEmpty(t *testing.T) {
	f := alertsFixture(t, false)
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"alerts": [], "silences": [], "routes": []}`))
	}))
	defer empty.Close()
	f.s.back.alerts = empty.URL
	c := f.client(t)
	c.login("olga")
	_, body := c.get("/alerts")
	wantContains(t, body, `id="no-firing"`, "Nothing is firing", `id="no-silences"`, `id="no-resolved"`, `id="silence-form"`)
}

func TestOperatorSilencesAndExpires(t *testing.T) {
	f := alertsFixture(t, false)
	c := f.client(t)
	c.login("olga")
	resp, body := c.post("/alerts", "/alerts/silences", url.Values{
		"matchers": {"alertname=\"outage_suspected\"\r\n\r\n  transformer_id=\"TX-0042\"  \n"}, "duration": {"90m"}, "comment": {"crew on site"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("silence: %s\n%s", resp.Status, body)
	}
	got := f.alerts.requests()
	want := SilenceRequest{Matchers: []string{`alertname="outage_suspected"`, `transformer_id="TX-0042"`}, Duration: "90m", CreatedBy: "olga", Comment: "crew on site"}
	if len(got) != 1 || strings.Join(got[0].Matchers, "|") != strings.Join(want.Matchers, "|") || got[0].Duration != want.Duration ||
		got[0].CreatedBy != want.CreatedBy || got[0].Comment != want.Comment {
		t.Fatalf("the alert-router was asked %+v, want %+v", got, want)
	}
	_, body = c.get(resp.Header.Get("Location"))
	wantContains(t, body, `class="notice"`, "Silence s-2 mutes", "until 2030-01-01 02:30:00Z", `data-silence="s-2"`, "crew on site")

	resp, _ = c.post("/alerts", "/alerts/silences/s-2/expire", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("expire: %s", resp.Status)
	}
	_, body = c.get(resp.Header.Get("Location"))
	wantContains(t, body, "Silence s-2 expired", `<span class="badge wait">expired</span>`)
	if strings.Contains(body, `action="/alerts/silences/s-2/expire"`) {
		t.Error("an expired silence can be expired again")
	}
	resp, body = c.post("/alerts", "/alerts/silences/nope/expire", url.Values{})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("expire an unknown silence: %s", resp.Status)
	}
	wantContains(t, body, "no silence nope")
}

func TestSilenceRefusedKeepsTheForm(t *testing.T) {
	f := alertsFixture(t, false)
	c := f.client(t)
	c.login("olga")
	cases := []struct {
		form   url.Values
		want   string
		router bool // the alert-router is asked
	}{
		{url.Values{"matchers": {" \n "}, "duration": {"1h"}, "comment": {"x"}}, "Give at least one matcher", false},
		{url.Values{"matchers": {`a="b"`}, "duration": {"2 hours"}, "comment": {"x"}}, `Duration &#34;2 hours&#34;: want a positive duration`, false},
		{url.Values{"matchers": {`a="b"`}, "duration": {"-1h"}, "comment": {"x"}}, "want a positive duration", false},
		{url.Values{"matchers": {`a="b"`}, "duration": {"1h"}, "comment": {"  "}}, "Say why in the comment", false},
		{url.Values{"matchers": {"transformer_id"}, "duration": {"1h"}, "comment": {"typo"}}, "The alert-router refused the silence: matcher &#34;transformer_id&#34;: want name=", true},
	}
	for _, tc := range cases {
		before := len(f.alerts.requests())
		resp, body := c.post("/alerts", "/alerts/silences", tc.form)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %s, want 400", tc.form, resp.Status)
		}
		wantContains(t, body, `id="silence-error"`, tc.want, `value="`+tc.form.Get("duration")+`"`)
		if asked := len(f.alerts.requests()) > before; asked != tc.router {
			t.Errorf("%v: alert-router asked %v, want %v", tc.form, asked, tc.router)
		}
	}
}

func TestViewerCannotSilence(t *testing.T) {
	f := alertsFixture(t, false)
	c := f.client(t)
	c.login("vic")
	resp, body := c.post("/alerts", "/alerts/silences", url.Values{"matchers": {`a="b"`}, "duration": {"1h"}, "comment": {"x"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer silence: %s", resp.Status)
	}
	wantContains(t, body, "needs the operator role; vic is a viewer")
	resp, _ = c.post("/alerts", "/alerts/silences/b3c128ab78e761ae/expire", url.Values{})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer expire: %s", resp.Status)
	}
	if n := len(f.alerts.requests()); n != 0 {
		t.Fatalf("the alert-router was asked %d times", n)
	}
	_, body = c.get("/alerts")
	wantContains(t, body, `<span class="badge active">active</span>`) // still on
}

func TestSilenceNeedsCSRF(t *testing.T) {
	f := alertsFixture(t, false)
	c := f.client(t)
	c.login("olga")
	form := url.Values{"matchers": {`a="b"`}, "duration": {"1h"}, "comment": {"x"}}
	for _, path := range []string{"/alerts/silences", "/alerts/silences/b3c128ab78e761ae/expire"} {
		if resp, _ := c.do(http.MethodPost, path, form, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without a CSRF token: %s", path, resp.Status)
		}
		form.Set("csrf", c.csrf("/alerts"))
		if resp, _ := c.do(http.MethodPost, path, form, map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s cross-site: %s", path, resp.Status)
		}
		form.Del("csrf")
	}
	if n := len(f.alerts.requests()); n != 0 {
		t.Fatalf("the alert-router was asked %d times", n)
	}
}

func TestMatchersOfAnAlert(t *testing.T) {
	got := matchersOf(map[string]string{"alertname": "meter_silent", "consecutive_missed": "4", "meter_id": "M9", "transformer_id": "TX-0042",
		"severity": "warning", "source": "/services/gap-detector", "type": "meter.reading.missed.v1", "note": `say "hi"`})
	want := "alertname=\"meter_silent\"\nmeter_id=\"M9\"\nnote=\"say \\\"hi\\\"\"\ntransformer_id=\"TX-0042\"\n"
	if got != want {
		t.Fatalf("matchers\n%s\nwant\n%s", got, want)
	}
}
