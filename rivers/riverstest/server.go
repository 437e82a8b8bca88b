package riverstest

import (
	"os"
	"strings"
	"testing"
)

// EnvRedis names the variable holding a real Redis' URL
// ("redis://127.0.0.1:16379/0"), set by scripts/testenv/up.sh.
const EnvRedis = "WATERSHED_TEST_REDIS"

// RequireServer returns the address of a real server an integration test
// needs, from the variable env that scripts/testenv/up.sh sets. When it is
// unset the test is skipped, naming the server (what) and how to start it —
// unless CI=true, where the servers run and a missing one fails the test,
// so a skip cannot hide it there.
func RequireServer(t testing.TB, env, what string) string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		msg := env + " not set: no " + what + " (run scripts/testenv/up.sh and source scripts/testenv/.state/env)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}
