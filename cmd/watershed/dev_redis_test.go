package main

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// TestDevStartsItsOwnRedisServer runs watershed dev with a small fleet and
// checks that the hot pond got a redis-server child process that answers,
// and that it is gone once dev stops.
func TestDevStartsItsOwnRedisServer(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no redis-server on PATH: scripts/testenv/up.sh installs it")
		}
		t.Skip("no redis-server on PATH (scripts/testenv/up.sh installs it)")
	}
	t.Setenv("REDIS_URL", "")
	os.Unsetenv("REDIS_URL")
	t.Chdir(t.TempDir()) // a relative data dir, as make dev has: redis-server must get absolute paths
	r := start(t, "dev", "--data-dir", "dev-data", "--addr", "127.0.0.1:0", "--http-port", "0",
		"--pprof", "", "--meters", "50", "--redis", "server")
	url := regexp.MustCompile(`hot pond: redis://(127\.0\.0\.1:\d+)/0 \(redis-server`)
	var addr string
	waitFor(t, "dev to print its redis-server", func() bool {
		if m := url.FindStringSubmatch(r.out.String()); m != nil {
			addr = m[1]
			return true
		}
		return false
	})
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("redis-server at %s does not answer: %v", addr, err)
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _ := c.Read(buf); string(buf[:n]) != "+PONG\r\n" {
		t.Fatalf("redis-server at %s answered %q to PING", addr, buf[:n])
	}
	c.Close()
	if err := r.stop(t); err != nil {
		t.Fatalf("dev stopped with %v", err)
	}
	waitFor(t, "redis-server to stop with dev", func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}
