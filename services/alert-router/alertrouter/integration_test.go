package alertrouter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// require returns the variable's value, or skips the test naming what is
// missing (fails it under CI=true, where the servers must be there).
func require(t *testing.T, name, what string) string {
	t.Helper()
	return riverstest.RequireServer(t, name, what)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redisStore is a RedisStore on the real Redis under a prefix of this
// test's own, deleted at the end.
func redisStore(t *testing.T) *RedisStore {
	url := require(t, "WATERSHED_TEST_REDIS", "real Redis")
	c, err := hot.NewClient(hot.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", url, err)
	}
	prefix := "ws:test:alert-router:" + randomHex(6) + ":"
	t.Cleanup(func() {
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		_ = c.Close()
	})
	return NewRedisStore(c, prefix)
}

func TestIntegrationRedisRestartNeitherLosesNorResends(t *testing.T) {
	testRestart(t, redisStore(t))
}

func TestIntegrationRedisStoreKeepsEverything(t *testing.T) {
	s := redisStore(t)
	ctx := t.Context()
	var b Batch
	b.Keep = 2
	b.put(collAlerts, "a", []byte(`{"x":1}`))
	b.put(collAlerts, "b", []byte(`{"x":2}`))
	for _, v := range []string{"1", "2", "3"} {
		b.appendTo(listHistory, []byte(v))
	}
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	var d Batch
	d.del(collAlerts, "a")
	if err := s.Write(ctx, d); err != nil {
		t.Fatal(err)
	}
	all, err := s.All(ctx, collAlerts)
	if err != nil || len(all) != 1 || string(all["b"]) != `{"x":2}` {
		t.Fatalf("All = %v, %v", all, err)
	}
	l, err := s.List(ctx, listHistory, 10)
	if err != nil || len(l) != 2 || string(l[0]) != "3" || string(l[1]) != "2" {
		t.Fatalf("List = %q, %v (want newest 2, newest first)", l, err)
	}
}

// TestIntegrationEmailThroughARealSMTPServer sends an outage to the test
// environment's SMTP server (aiosmtpd) and finds the mail in its Maildir.
func TestIntegrationEmailThroughARealSMTPServer(t *testing.T) {
	addr := require(t, "WATERSHED_TEST_SMTP", "SMTP server")
	maildir := require(t, "WATERSHED_TEST_SMTP_MAILDIR", "SMTP server's Maildir")
	tx := "TX-" + randomHex(4) // this test's own, to find its mail among others'
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	_ = os.WriteFile(rules, []byte(`
receivers:
  - name: on-call
    email: {to: [oncall@example.com, grid@example.com], from: alerts@example.com}
routes:
  - receivers: [on-call]
    group_wait: 1s
`), 0o600)
	f := start(t, Config{RulesFile: rules, SMTPAddr: addr}, nil)
	f.outage("OUT-"+tx, tx, "M1", "M2", "M3")
	f.kit.Advance(time.Second)
	mail := waitForMail(t, maildir, tx, 30*time.Second)
	for _, want := range []string{"Subject: [FIRING:1] alertname=outage_suspected", "From: alerts@example.com",
		"To: oncall@example.com, grid@example.com", HeaderNotificationID + ":", "suspected outage on transformer " + tx} {
		if !strings.Contains(mail, want) {
			t.Errorf("mail lacks %q:\n%s", want, mail)
		}
	}
	ds, _ := f.svc.Router.Deliveries(t.Context(), 1)
	if len(ds) != 1 || ds[0].Kind != "email" || ds[0].Status != DeliveryDelivered {
		t.Errorf("history %+v", ds)
	}
	// A server that refuses the connection: retried, not lost.
	rules2 := filepath.Join(t.TempDir(), "rules.yaml")
	_ = os.WriteFile(rules2, []byte("receivers:\n  - name: m\n    email: {to: [x@example.com], smarthost: \"127.0.0.1:1\"}\nroutes:\n  - receivers: [m]\n    group_wait: 1s\n"), 0o600)
	g := start(t, Config{RulesFile: rules2}, nil)
	g.outage("OUT-X", "TX-X", "M1", "M2", "M3")
	g.kit.Advance(time.Second)
	if out := g.svc.Router.Pending(false); len(out) != 1 || out[0].Attempts != 1 || !strings.Contains(out[0].LastError, "smtp 127.0.0.1:1") {
		t.Fatalf("outbox after a refused connection: %+v", out)
	}
}

// waitForMail polls the Maildir until a message containing needle arrived.
func waitForMail(t *testing.T, maildir, needle string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, sub := range []string{"new", "cur"} {
			entries, _ := os.ReadDir(filepath.Join(maildir, sub))
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(maildir, sub, e.Name()))
				if err == nil && strings.Contains(string(b), needle) {
					return string(b)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail mentioning %s in %s after %s", needle, maildir, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntegrationDLQSizesFromKafka reads the dead-letter topics' end
// offsets from the embedded broker and, when set, the real Kafka.
func TestIntegrationDLQSizesFromKafka(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			dlq := k.Kafka.Topics.Rivers + ".dlq"
			sizer := KafkaDLQSizer(k.Kafka)
			// A fresh topic's leader may not be known yet: the watch's next
			// look would try again; so does the test, until a deadline.
			var before map[string]int64
			var err error
			for deadline := time.Now().Add(30 * time.Second); ; {
				if before, err = sizer(t.Context(), []string{dlq}); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			recs := make([]rivers.Record, 3)
			for i := range recs {
				recs[i] = rivers.Record{Topic: dlq, Key: []byte("k"), Value: []byte("{}")}
			}
			riverstest.Produce(t, k.Kafka, recs...)
			after, err := sizer(t.Context(), []string{dlq})
			if err != nil {
				t.Fatal(err)
			}
			if after[dlq]-before[dlq] != 3 {
				t.Fatalf("%s grew from %d to %d, want +3", dlq, before[dlq], after[dlq])
			}
		})
	}
}
