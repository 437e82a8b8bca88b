package hotpond

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// apiOf is the read API of a hot pond whose Redis does not answer: a
// request that passes authentication gets 503 from the pond, one that does
// not gets 401 or 403 before Redis is asked.
func apiOf(t *testing.T, token string) http.Handler {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Redis.URL = "redis://127.0.0.1:1/0"
	cfg.Redis.DialTimeout = 100 * time.Millisecond
	cfg.APIToken = token
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h.API()
}

func get(t *testing.T, api http.Handler, remote, auth string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/v1/meters/MTR-000001/latest", nil)
	r.RemoteAddr = remote
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	return w
}

func TestAPIRequiresTheToken(t *testing.T) {
	const tok = "0123456789abcdef0123456789abcdef"
	api := apiOf(t, tok)
	for name, c := range map[string]struct {
		remote, auth string
		want         int
	}{
		"no header":            {"10.0.0.7:5000", "", http.StatusUnauthorized},
		"no header, loopback":  {"127.0.0.1:5000", "", http.StatusUnauthorized},
		"wrong token":          {"10.0.0.7:5000", "Bearer " + strings.Repeat("x", len(tok)), http.StatusUnauthorized},
		"token's prefix":       {"10.0.0.7:5000", "Bearer " + tok[:20], http.StatusUnauthorized},
		"basic scheme":         {"10.0.0.7:5000", "Basic " + tok, http.StatusUnauthorized},
		"right token":          {"10.0.0.7:5000", "Bearer " + tok, http.StatusServiceUnavailable},
		"scheme in lower case": {"10.0.0.7:5000", "bearer " + tok, http.StatusServiceUnavailable},
	} {
		t.Run(name, func(t *testing.T) {
			w := get(t, api, c.remote, c.auth)
			if w.Code != c.want {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), c.want)
			}
			if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
			if strings.Contains(w.Body.String(), tok) {
				t.Error("the answer repeats the token")
			}
		})
	}
}

func TestAPIWithoutTokenServesLoopbackOnly(t *testing.T) {
	api := apiOf(t, "")
	if w := get(t, api, "127.0.0.1:5000", ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("loopback client: status %d (%s), want 503 from the unreachable Redis", w.Code, w.Body.String())
	}
	if w := get(t, api, "[::1]:5000", ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("IPv6 loopback client: status %d, want 503", w.Code)
	}
	w := get(t, api, "172.18.0.1:5000", "Bearer anything-at-all-here")
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), EnvAPIToken) {
		t.Errorf("remote client: status %d (%s), want 403 naming %s", w.Code, w.Body.String(), EnvAPIToken)
	}
}

func TestAPITokenFromEnv(t *testing.T) {
	for name, c := range map[string]struct {
		value string
		bad   bool
	}{
		"good":             {"0123456789abcdef0123", false},
		"empty":            {"", true},
		"short":            {"abc123", true},
		"trailing newline": {"0123456789abcdef0123\n", true},
		"inner space":      {"0123456789 abcdef0123", true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(EnvAPIToken, c.value)
			cfg, err := ConfigFromEnv()
			if c.bad {
				if err == nil || !strings.Contains(err.Error(), EnvAPIToken) {
					t.Fatalf("err %v: want one naming %s", err, EnvAPIToken)
				}
				if c.value != "" && strings.Contains(err.Error(), strings.TrimSpace(c.value)) {
					t.Errorf("the error repeats the token: %v", err)
				}
				return
			}
			if err != nil || cfg.APIToken != c.value {
				t.Fatalf("cfg.APIToken %q, err %v", cfg.APIToken, err)
			}
		})
	}
}
