package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the time of the sign-in limits in tests: it moves only
// when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// limitFixture: a console whose sign-ins run on a fake clock, with the
// default limits (5 failures per name, 20 per address, then one a minute
// per name, four a minute per address).
func limitFixture(t *testing.T) (*fixture, *fakeClock) {
	f := newFixture(t, false)
	clock := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.s.auth.now = clock.Now
	return f, clock
}

// signIn posts the sign-in form from addr, with a valid CSRF token.
func (f *fixture) signIn(t *testing.T, addr, name, password string) *httptest.ResponseRecorder {
	t.Helper()
	v := strings.Repeat("c", 32)
	form := url.Values{"name": {name}, "password": {password}, "csrf": {f.s.auth.sign([]byte("csrf:" + v))}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(&http.Cookie{Name: cookieCSRF, Value: v})
	req.RemoteAddr = addr + ":40000"
	rec := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(rec, req)
	return rec
}

func wantSignIn(t *testing.T, rec *httptest.ResponseRecorder, code int, retryAfter string) {
	t.Helper()
	if rec.Code != code || rec.Header().Get("Retry-After") != retryAfter {
		t.Fatalf("sign-in: %d with Retry-After %q, want %d with %q\n%s", rec.Code, rec.Header().Get("Retry-After"), code, retryAfter, rec.Body)
	}
}

func TestSigninLimitPerName(t *testing.T) {
	f, clock := limitFixture(t)
	for range 5 {
		wantSignIn(t, f.signIn(t, "10.0.0.1", "olga", "wrong"), http.StatusUnauthorized, "")
	}
	// the right password does not help now, nor does another address
	rec := f.signIn(t, "10.0.0.1", "olga", "secret-pw")
	wantSignIn(t, rec, http.StatusTooManyRequests, "60")
	wantContains(t, rec.Body.String(), "Too many failed sign-ins", "try again in 60 s", `id="signin"`)
	wantSignIn(t, f.signIn(t, "10.0.0.2", "olga", "secret-pw"), http.StatusTooManyRequests, "60")
	// other names are not held up
	wantSignIn(t, f.signIn(t, "10.0.0.1", "vic", "secret-pw"), http.StatusSeeOther, "")

	clock.Advance(59 * time.Second)
	wantSignIn(t, f.signIn(t, "10.0.0.1", "olga", "secret-pw"), http.StatusTooManyRequests, "1")
	clock.Advance(time.Second)
	wantSignIn(t, f.signIn(t, "10.0.0.1", "olga", "wrong"), http.StatusUnauthorized, "") // one more try a minute
	wantSignIn(t, f.signIn(t, "10.0.0.1", "olga", "secret-pw"), http.StatusTooManyRequests, "60")
	clock.Advance(time.Minute)
	wantSignIn(t, f.signIn(t, "10.0.0.1", "olga", "secret-pw"), http.StatusSeeOther, "")

	// the success cleared the failures: five more before the wait
	for range 5 {
		wantSignIn(t, f.signIn(t, "10.0.0.1", "olga", "wrong"), http.StatusUnauthorized, "")
	}
	wantSignIn(t, f.signIn(t, "10.0.0.1", "olga", "wrong"), http.StatusTooManyRequests, "60")
}

func TestSigninLimitPerAddress(t *testing.T) {
	f, clock := limitFixture(t)
	// 20 failures from one address, over names that each stay under 5
	for i := range 20 {
		name := "guess-" + string(rune('a'+i/4))
		wantSignIn(t, f.signIn(t, "192.0.2.7", name, "wrong"), http.StatusUnauthorized, "")
	}
	wantSignIn(t, f.signIn(t, "192.0.2.7", "olga", "secret-pw"), http.StatusTooManyRequests, "15")
	// the others at other addresses sign in
	wantSignIn(t, f.signIn(t, "192.0.2.8", "olga", "secret-pw"), http.StatusSeeOther, "")
	clock.Advance(15 * time.Second)
	wantSignIn(t, f.signIn(t, "192.0.2.7", "vic", "secret-pw"), http.StatusSeeOther, "")
	// which cleared the address
	for i := range 20 {
		wantSignIn(t, f.signIn(t, "192.0.2.7", "other-"+string(rune('a'+i/4)), "wrong"), http.StatusUnauthorized, "")
	}
	wantSignIn(t, f.signIn(t, "192.0.2.7", "vic", "secret-pw"), http.StatusTooManyRequests, "15")
}

func TestSigninLimitForgetsFullBuckets(t *testing.T) {
	l := newSigninLimit(2, time.Minute)
	l.tracks = 3
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, n := range []string{"a", "b", "c"} {
		if w := l.attempt(now, "addr-"+n, n); w != 0 {
			t.Fatalf("first attempt of %s waits %s", n, w)
		}
	}
	// all three are half used: a fourth name is not tracked (its address is)
	if w := l.attempt(now, "addr-d", "d"); w != 0 || len(l.names.m) != 3 {
		t.Fatalf("fourth name: wait %s, %d names kept", w, len(l.names.m))
	}
	// a minute on, the buckets are full again and are dropped for new ones
	now = now.Add(time.Minute)
	if w := l.attempt(now, "addr-e", "e"); w != 0 || len(l.names.m) != 1 {
		t.Fatalf("after a minute: wait %s, %d names kept, want only e", w, len(l.names.m))
	}
}
