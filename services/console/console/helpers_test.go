package console

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
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
// tracker and the hot pond (testdata/); down answers 502 for every path.
func fakeBackends(t testing.TB, down bool) *httptest.Server {
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
		default:
			http.Error(w, "hot: not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
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
}

func newFixture(t testing.TB, backendDown bool) *fixture {
	t.Helper()
	back := fakeBackends(t, backendDown)
	cfg := DefaultConfig()
	cfg.RegistryURL, cfg.DemandURL, cfg.HotPondURL = back.URL, back.URL, back.URL
	cfg.Users = testUsers(t)
	f := &fixture{ring: NewRing(50), grid: NewGrid(10), letters: &fakeLetters{}}
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
