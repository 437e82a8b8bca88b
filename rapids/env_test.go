package rapids_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids/embedded"
)

// requireEnv returns the value of the test server variable name. When it is
// unset the test is skipped, except under CI (CI=true), which always
// provides the servers: there it fails.
func requireEnv(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := name + " not set: no " + what + " (run scripts/testenv/up.sh)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startBroker starts an embedded broker on a free port with Watershed's
// topics, keeping its data in dir ("" for memory), closed at cleanup.
func startBroker(t testing.TB, dir string) *embedded.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("embedded.Start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// restartCommand returns the command of WATERSHED_TEST_KAFKA_RESTART, a
// shell command that restarts the real Kafka of WATERSHED_TEST_KAFKA keeping
// its data and returns once it answers again (for the test environment:
// WATERSHED_TEST_KAFKA_RESTART='scripts/testenv/kafka.sh restart'); nil when
// unset. It is opt-in because restarting a shared broker disturbs every
// other test using it at the time.
func restartCommand() func() *exec.Cmd {
	script := os.Getenv("WATERSHED_TEST_KAFKA_RESTART")
	if script == "" {
		return nil
	}
	return func() *exec.Cmd { return exec.Command("sh", "-c", script) }
}
