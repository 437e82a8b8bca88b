package supervisor

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseManifestDefaultsAndFields(t *testing.T) {
	m, err := ParseManifest([]byte(`
services:
  - name: gap-detector
    module: github.com/watershed-grid/watershed/services/gap-detector
    args: [--verbose]
    env: {KAFKA_BROKERS: "127.0.0.1:9092"}
  - name: registry
    command: /usr/local/bin/registry
    restart: always
    max_restarts: -1
    backoff: {initial: 500ms, max: 1m, factor: 1.5}
    stop_timeout: 3s
`))
	if err != nil {
		t.Fatal(err)
	}
	g, r := m.Programs[0], m.Programs[1]
	if g.Restart != OnFailure || g.MaxRestarts != DefaultMaxRestarts || g.Backoff.Initial != DefaultBackoffInitial || g.StopTimeout != DefaultStopTimeout {
		t.Errorf("defaults not applied: %+v", g)
	}
	if got := strings.Join(g.Argv(), " "); got != "go run github.com/watershed-grid/watershed/services/gap-detector --verbose" {
		t.Errorf("argv = %q", got)
	}
	if g.Env["KAFKA_BROKERS"] != "127.0.0.1:9092" {
		t.Errorf("env = %v", g.Env)
	}
	if r.Restart != Always || r.MaxRestarts != -1 || r.Backoff.Initial != 500*time.Millisecond || r.Backoff.Max != time.Minute || r.Backoff.Factor != 1.5 || r.StopTimeout != 3*time.Second {
		t.Errorf("fields not parsed: %+v", r)
	}
	if r.Argv()[0] != "/usr/local/bin/registry" {
		t.Errorf("argv = %v", r.Argv())
	}
}

func TestParseManifestRejects(t *testing.T) {
	cases := map[string]string{
		"empty":        `services: []`,
		"no name":      "services:\n  - command: /bin/true",
		"both":         "services:\n  - {name: a, command: /bin/true, module: x/y}",
		"neither":      "services:\n  - {name: a}",
		"policy":       "services:\n  - {name: a, command: /bin/true, restart: sometimes}",
		"duplicate":    "services:\n  - {name: a, command: /bin/true}\n  - {name: a, command: /bin/true}",
		"unknown key":  "services:\n  - {name: a, command: /bin/true, restart_policy: always}",
		"bad duration": "services:\n  - {name: a, command: /bin/true, stop_timeout: soon}",
		"factor":       "services:\n  - {name: a, command: /bin/true, backoff: {factor: 0.5}}",
	}
	for name, doc := range cases {
		if _, err := ParseManifest([]byte(doc)); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: err = %v, want ErrInvalidManifest", name, err)
		}
	}
}
