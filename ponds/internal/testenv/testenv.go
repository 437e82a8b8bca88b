// Package testenv is the ponds module's one rule for tests that need a real
// server: the server's address comes from an environment variable; when it
// is unset the test is skipped with the reason, except under CI=true, where
// CI always provides the servers and a missing one is a failure.
package testenv

import (
	"os"
	"testing"
)

// Require returns the value of the environment variable name, or ends the
// test: Skip when it is unset, Fatal when it is unset and CI=true.
func Require(tb testing.TB, name, what string) string {
	tb.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	Unavailable(tb, name+" not set: no "+what+" (run scripts/testenv/up.sh)")
	return ""
}

// Unavailable ends a test whose tool or server is missing: Skip with the
// reason, or Fatal under CI=true.
func Unavailable(tb testing.TB, reason string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(reason)
	}
	tb.Skip(reason)
}

// Scale returns n, or n/div under the race detector (at least 1).
func Scale(n, div int) int {
	if Race {
		return max(1, n/div)
	}
	return n
}
