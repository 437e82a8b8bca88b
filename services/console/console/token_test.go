package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// api sends a request as a script does: no cookies, no fetch metadata,
// the token in the Authorization header ("" for none).
func (f *fixture) api(t *testing.T, method, path, token string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s %s: %s, not JSON: %v", method, path, resp.Status, err)
	}
	return resp, v
}

func TestTokenReadsTheAlertsAPI(t *testing.T) {
	f := alertsFixture(t, false)
	resp, v := f.api(t, http.MethodGet, "/api/alerts", viewToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %v", resp.Status, v)
	}
	b, _ := json.Marshal(v)
	for _, want := range []string{`"name":"outage_suspected"`, `"receivers":["default-webhook"]`, `"id":"b3c128ab78e761ae"`, `"state":"active"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("GET /api/alerts lacks %s:\n%s", want, b)
		}
	}
	if n := len(v["alerts"].([]any)); n != 3 {
		t.Errorf("%d alerts, want the 3 recorded", n)
	}

	// none, or a wrong one: 401 in JSON, not a redirect to the sign-in page
	for _, tok := range []string{"", "not-a-token", opsToken + "x"} {
		resp, v := f.api(t, http.MethodGet, "/api/alerts", tok, nil)
		if resp.StatusCode != http.StatusUnauthorized || v["error"] == nil || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("token %q: %s %v, want 401 with an error and WWW-Authenticate", tok, resp.Status, v)
		}
	}

	down := alertsFixture(t, true)
	resp, v = down.api(t, http.MethodGet, "/api/alerts", viewToken, nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(v["error"].(string), "alert-router at http://") {
		t.Errorf("alert-router down: %s %v", resp.Status, v)
	}
}

func TestTokenActsWithItsRole(t *testing.T) {
	f := alertsFixture(t, false)
	form := url.Values{"matchers": {`alertname="outage_suspected"`}, "duration": {"1h"}, "comment": {"deploy window"}}
	// no CSRF token, no session: the bearer token is the credential
	resp, v := f.api(t, http.MethodPost, "/alerts/silences", opsToken, form)
	if resp.StatusCode != http.StatusCreated || v["id"] != "s-2" || v["created_by"] != "ci-bot" {
		t.Fatalf("operator token: %s %v", resp.Status, v)
	}
	resp, v = f.api(t, http.MethodPost, "/alerts/silences", opsToken, url.Values{"matchers": {"oops"}, "duration": {"1h"}, "comment": {"x"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(v["error"].(string), "refused the silence") {
		t.Fatalf("refused silence: %s %v", resp.Status, v)
	}
	resp, v = f.api(t, http.MethodPost, "/alerts/silences/s-2/expire", opsToken, url.Values{})
	if resp.StatusCode != http.StatusOK || v["id"] != "s-2" || v["ends_at"] != alertsNow.Format(time.RFC3339) {
		t.Fatalf("expire: %s %v", resp.Status, v)
	}
	// the viewer's token reads but does not act
	resp, v = f.api(t, http.MethodPost, "/alerts/silences", viewToken, form)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(v["error"].(string), "dashboard is a viewer") {
		t.Fatalf("viewer token: %s %v", resp.Status, v)
	}
	if n := len(f.alerts.requests()); n != 2 {
		t.Fatalf("the alert-router was asked %d times, want 2 (the operator's)", n)
	}

	f.letters.dlq = append(f.letters.dlq, letterRecord(t, 1, "usage.interval.v1", "permanent", "boom"))
	resp, v = f.api(t, http.MethodPost, "/dlq/replay", opsToken, url.Values{"type": {"usage.interval.v1"}})
	if resp.StatusCode != http.StatusOK || v["replayed"] != 1.0 || len(f.letters.replayed) != 1 {
		t.Fatalf("replay by token: %s %v", resp.Status, v)
	}
}

func TestWrongTokenIsNotCoveredBySession(t *testing.T) {
	f := alertsFixture(t, false)
	c := f.client(t)
	c.login("olga")
	// a signed-in browser that also sends a wrong token is refused: the
	// token, when there is one, is the only credential looked at
	resp, _ := c.do(http.MethodGet, "/alerts", nil, map[string]string{"Authorization": "Bearer wrong"})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session with a wrong token: %s", resp.Status)
	}
	// and a wrong token does not lift the CSRF check on a session's POST
	resp, _ = c.do(http.MethodPost, "/alerts/silences", url.Values{"matchers": {`a="b"`}, "duration": {"1h"}, "comment": {"x"}},
		map[string]string{"Authorization": "Bearer wrong"})
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST with a wrong token and no CSRF: %s", resp.Status)
	}
	if n := len(f.alerts.requests()); n != 0 {
		t.Fatalf("the alert-router was asked %d times", n)
	}
}
