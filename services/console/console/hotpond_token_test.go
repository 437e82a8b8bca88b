package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The console sends CONSOLE_HOTPOND_TOKEN to the hot pond, and to no other
// backend.
func TestHotPondTokenSentToTheHotPondOnly(t *testing.T) {
	const tok = "hot-pond-token-0123456789abcdef"
	auth := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth[r.URL.Path] = r.Header.Get("Authorization")
		if strings.HasPrefix(r.URL.Path, "/v1/meters/") && r.Header.Get("Authorization") != "Bearer "+tok {
			http.Error(w, "send the hot pond's API token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"services":[],"meter_id":"m-1"}`))
	}))
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.RegistryURL, cfg.HotPondURL = srv.URL, srv.URL
	cfg.HotPondToken = tok
	b := newBackends(cfg)
	if _, err := b.meter(context.Background(), "m-1"); err != nil {
		t.Fatalf("hot pond with the token: %v", err)
	}
	if _, err := b.services(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := auth["/v1/services"]; got != "" {
		t.Errorf("the registry got Authorization %q: the hot pond's token goes to the hot pond only", got)
	}

	cfg.HotPondToken = ""
	_, err := newBackends(cfg).meter(context.Background(), "m-1")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("hot pond without the token: err %v, want its 401", err)
	}
}

func TestHotPondTokenFromEnv(t *testing.T) {
	us := testUsers(t)
	base := map[string]string{"CONSOLE_USERS": "olga:operator:" + string(us[0].Hash)}
	with := func(v string) map[string]string {
		m := map[string]string{"CONSOLE_HOTPOND_TOKEN": v}
		for k, x := range base {
			m[k] = x
		}
		return m
	}
	c, err := configFrom(lookup(with("0123456789abcdef0123")))
	if err != nil || c.HotPondToken != "0123456789abcdef0123" {
		t.Fatalf("HotPondToken %q, err %v", c.HotPondToken, err)
	}
	for _, bad := range []string{"0123456789 abcdef", "01234567\t89abcdef"} {
		_, err := configFrom(lookup(with(bad)))
		if err == nil || !strings.Contains(err.Error(), "CONSOLE_HOTPOND_TOKEN") {
			t.Errorf("CONSOLE_HOTPOND_TOKEN=%q: err %v, want one naming the variable", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "89abcdef") {
			t.Errorf("the error repeats the token: %v", err)
		}
	}
}
