package bearer

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func call(h http.Handler, remote, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
	req.RemoteAddr = remote
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	open := Guard{Realm: "test", Env: "TEST_TOKEN"}.Wrap(ok)
	if c := call(open, "127.0.0.1:5000", "").Code; c != http.StatusTeapot {
		t.Errorf("no token, loopback: %d", c)
	}
	if c := call(open, "[::1]:5000", "").Code; c != http.StatusTeapot {
		t.Errorf("no token, IPv6 loopback: %d", c)
	}
	if rec := call(open, "10.1.2.3:5000", ""); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "TEST_TOKEN") {
		t.Errorf("no token, remote: %d %q", rec.Code, rec.Body)
	}
	tok := "0123456789abcdef0123"
	guarded := Guard{Realm: "test", Env: "TEST_TOKEN", Token: tok}.Wrap(ok)
	for _, tc := range []struct {
		auth string
		code int
	}{
		{"", http.StatusUnauthorized},
		{"Basic abc", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Bearer " + tok, http.StatusTeapot},
		{"bearer " + tok, http.StatusTeapot},
	} {
		rec := call(guarded, "10.1.2.3:5000", tc.auth)
		if rec.Code != tc.code {
			t.Errorf("%q: %d, want %d", tc.auth, rec.Code, tc.code)
		}
		if strings.Contains(rec.Body.String(), tok) {
			t.Errorf("%q: the answer repeats the token", tc.auth)
		}
	}
}

func TestCheck(t *testing.T) {
	if err := Check("X", ""); err != nil {
		t.Errorf("empty: %v", err)
	}
	if err := Check("X", "short"); err == nil || !strings.Contains(err.Error(), "X") || strings.Contains(err.Error(), "short") {
		t.Errorf("short: %v", err)
	}
	if err := Check("X", "0123456789abcdef\n"); err == nil {
		t.Error("a trailing newline passed")
	}
	if err := Check("X", "0123456789abcdef"); err != nil {
		t.Errorf("good token: %v", err)
	}
}
