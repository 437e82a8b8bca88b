package console

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers/deadletter"
	"golang.org/x/crypto/bcrypt"
)

// testUsers: "olga" operates, "vic" views; both with password "secret-pw".
func testUsers(t testing.TB) []User {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("secret-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return []User{{Name: "olga", Role: RoleOperator, Hash: h}, {Name: "vic", Role: RoleViewer, Hash: h}}
}

// fakeBackends serves the recorded answers of the registry, the demand
// tracker, the hot pond and the alert-router (testdata/; silences are
// kept by alerts); down answers 502 for every path.
func fakeBackends(t testing.TB, down bool, alerts *fakeAlertRouter) *httptest.Server {
	t.Helper()
	file := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down {
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/services":
			w.Write(file("registry-services.json"))
		case "/v1/types":
			w.Write(file("registry-types.json"))
		case "/v1/demand":
			w.Write(file("demand.json"))
		case "/v1/meters/m-000042/latest":
			w.Write(file("hotpond-latest.json"))
		case "/v1/alerts":
			w.Write(file("alerts.json"))
		case "/v1/rules":
			w.Write(file("alert-rules.json"))
		case "/v1/silences":
			alerts.silences(w, r)
		default:
			if id, ok := strings.CutPrefix(r.URL.Path, "/v1/silences/"); ok && r.Method == http.MethodDelete {
				alerts.expire(w, id)
				return
			}
			http.Error(w, "hot: not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fakeAlertRouter keeps silences like the alert-router's API does, from
// the recorded testdata/alert-silences.json on.
type fakeAlertRouter struct {
	mu   sync.Mutex
	list []Silence
	got  []SilenceRequest
	now  time.Time
}

func newFakeAlertRouter(t testing.TB) *fakeAlertRouter {
	t.Helper()
	b, err := os.ReadFile("testdata/alert-silences.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ Silences []Silence }
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return &fakeAlertRouter{list: rec.Silences, now: alertsNow}
}

// alertsNow is the time of the recorded alerts: an hour after they fired,
// while the recorded silence is on.
var alertsNow = time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC)

func (f *fakeAlertRouter) silences(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet {
		json.NewEncoder(w).Encode(map[string]any{"silences": f.list})
		return
	}
	var sr SilenceRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sr); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "body: " + err.Error()})
		return
	}
	f.got = append(f.got, sr)
	for _, m := range sr.Matchers {
		if !strings.Contains(m, "=") {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "matcher " + strconv.Quote(m) + `: want name="value"`})
			return
		}
	}
	d, _ := time.ParseDuration(sr.Duration)
	s := Silence{ID: "s-" + strconv.Itoa(len(f.list)+1), Matchers: sr.Matchers, StartsAt: f.now, EndsAt: f.now.Add(d),
		CreatedBy: sr.CreatedBy, Comment: sr.Comment, CreatedAt: f.now}
	f.list = append([]Silence{s}, f.list...)
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(s)
}

func (f *fakeAlertRouter) expire(w http.ResponseWriter, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	for i := range f.list {
		if f.list[i].ID == id {
			f.list[i].EndsAt = f.now
			json.NewEncoder(w).Encode(f.list[i])
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(map[string]string{"error": "silence " + id + ": not found"})
}

func (f *fakeAlertRouter) requests() []SilenceRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// fakeLetters is DeadLetters in memory: replays append markers and count
// the records sent to the origin topics.
type fakeLetters struct {
	mu       sync.Mutex
	dlq      []rapids.Record
	replayed []rapids.Record
	err      error
}

func (f *fakeLetters) Read(context.Context) ([]deadletter.Letter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []deadletter.Letter
	for i, r := range f.dlq {
		r.Offset = int64(i)
		out = append(out, deadletter.Parse(r))
	}
	return out, nil
}

func (f *fakeLetters) Replay(_ context.Context, plan deadletter.Plan) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range plan.Replay {
		r, err := deadletter.ReplayRecord(l)
		if err != nil {
			return 0, err
		}
		f.replayed = append(f.replayed, r)
		m := deadletter.MarkerRecord(l, time.Now())
		m.Topic = "rivers.dlq"
		f.dlq = append(f.dlq, m)
	}
	return len(plan.Replay), nil
}

// letterRecord is a dead letter as the rivers SDK writes it.
func letterRecord(t testing.TB, n int, typ, class, msg string) rapids.Record {
	t.Helper()
	ev, err := contracts.New("/services/test", typ, map[string]any{"meter_id": "m-" + strconv.Itoa(n), "n": n})
	if err != nil {
		t.Fatal(err)
	}
	ev.PartitionKey = "m-" + strconv.Itoa(n)
	m, err := contracts.EncodeBinary(ev)
	if err != nil {
		t.Fatal(err)
	}
	hs := append(m.Headers,
		contracts.Header{Key: deadletter.HeaderOriginTopic, Value: []byte("rivers")},
		contracts.Header{Key: deadletter.HeaderOriginPartition, Value: []byte("0")},
		contracts.Header{Key: deadletter.HeaderOriginOffset, Value: []byte(strconv.Itoa(n * 10))},
		contracts.Header{Key: deadletter.HeaderErrorClass, Value: []byte(class)},
		contracts.Header{Key: deadletter.HeaderError, Value: []byte(msg)},
		contracts.Header{Key: deadletter.HeaderService, Value: []byte("usage-aggregator")},
		contracts.Header{Key: deadletter.HeaderFailedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	)
	return rapids.Record{Topic: "rivers.dlq", Key: m.Key, Value: m.Value, Headers: hs}
}

type fixture struct {
	srv     *httptest.Server
	s       *Server
	ring    *Ring
	grid    *Grid
	letters *fakeLetters
	alerts  *fakeAlertRouter
}

// The API tokens of the fixture: opsToken is the operator "ci-bot"'s,
// viewToken the viewer "dashboard"'s.
const (
	opsToken  = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	viewToken = "f9e8d7c6b5a4938271605f4e3d2c1b0af9e8d7c6b5a4938271605f4e3d2c1b0a"
)

func testTokens() []Token {
	return []Token{{Name: "ci-bot", Role: RoleOperator, Hash: sha256.Sum256([]byte(opsToken))},
		{Name: "dashboard", Role: RoleViewer, Hash: sha256.Sum256([]byte(viewToken))}}
}

func newFixture(t testing.TB, backendDown bool) *fixture {
	t.Helper()
	f := &fixture{ring: NewRing(50), grid: NewGrid(10), letters: &fakeLetters{}, alerts: newFakeAlertRouter(t)}
	back := fakeBackends(t, backendDown, f.alerts)
	cfg := DefaultConfig()
	cfg.RegistryURL, cfg.DemandURL, cfg.HotPondURL, cfg.AlertsURL = back.URL, back.URL, back.URL, back.URL
	cfg.Users = testUsers(t)
	cfg.Tokens = testTokens()
	f.s = NewServer(cfg, f.ring, f.grid, f.letters)
	f.srv = httptest.NewServer(f.s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// client is a browser without JavaScript: it keeps cookies, does not
// follow redirects, and sends same-origin fetch metadata.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func (f *fixture) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: f.srv.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

func (c *client) get(path string) (*http.Response, string) {
	return c.do(http.MethodGet, path, nil, nil)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the token of the form on the page at path.
func (c *client) csrf(path string) string {
	c.t.Helper()
	_, body := c.get(path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no csrf field on %s:\n%s", path, body)
	}
	return m[1]
}

// post sends form with the CSRF token of the page at from.
func (c *client) post(from, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	form.Set("csrf", c.csrf(from))
	return c.do(http.MethodPost, path, form, nil)
}

func (c *client) login(name string) {
	c.t.Helper()
	resp, body := c.post("/login", "/login", url.Values{"name": {name}, "password": {"secret-pw"}, "next": {"/services"}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign-in of %s: %s\n%s", name, resp.Status, body)
	}
}

func wantContains(t testing.TB, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", body)
	}
}
