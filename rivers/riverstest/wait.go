package riverstest

import (
	"testing"
	"time"
)

// WaitFor returns once cond is true, checking it every few milliseconds,
// or fails the test after timeout saying what it waited for. It is for
// what a test cannot be told of directly: a service on Kafka handling an
// event (cond reads [Metric]), a file appearing.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("riverstest: waited %s for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
