package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.WriteHeader(http.StatusOK)
		case "/moved":
			http.Redirect(w, r, "/readyz", http.StatusFound)
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	noEnv := func(string) string { return "" }

	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		code   int
		stderr string
	}{
		{"ready", []string{srv.URL + "/readyz"}, noEnv, 0, ""},
		{"not ready", []string{srv.URL + "/healthz"}, noEnv, 1, "503"},
		{"redirect is a failure", []string{srv.URL + "/moved"}, noEnv, 1, "302"},
		{"PROBE_URL", nil, func(k string) string {
			if k == "PROBE_URL" {
				return srv.URL + "/readyz"
			}
			return ""
		}, 0, ""},
		{"argument wins over PROBE_URL", []string{srv.URL + "/x"}, func(string) string { return srv.URL + "/readyz" }, 1, "503"},
		{"nothing listening", []string{"-timeout", "500ms", "http://127.0.0.1:1/readyz"}, noEnv, 1, "GET http://127.0.0.1:1/readyz"},
		{"two urls", []string{"a", "b"}, noEnv, 2, "at most one URL"},
		{"bad flag", []string{"-nope"}, noEnv, 2, "-nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tt.args, tt.getenv, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("stderr %q does not name %q", stderr.String(), tt.stderr)
			}
		})
	}
}
