package dispatcher

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// testStore runs the Store contract on one implementation.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Record{Request: events.MeterCommandRequested{CommandID: "C1", MeterID: "MTR-1", Command: events.CommandReadNow,
		RequestedBy: "t", MaxAttempts: 3, AckTimeoutSeconds: 1}, RequestedAt: t0}
	if ok, err := s.Create(ctx, r, t0); !ok || err != nil || r.Version != 1 {
		t.Fatalf("Create = %v, %v (version %d)", ok, err, r.Version)
	}
	dup := *r
	dup.Attempt = 9
	if ok, err := s.Create(ctx, &dup, t0); ok || err != nil {
		t.Fatalf("second Create = %v, %v, want false: a duplicate", ok, err)
	}
	if ids, err := s.Due(ctx, t0, 10); err != nil || len(ids) != 1 || ids[0] != "C1" {
		t.Fatalf("Due = %v, %v", ids, err)
	}
	a, _ := s.Get(ctx, "C1")
	b, _ := s.Get(ctx, "C1")
	a.Attempt = 1
	if err := s.Put(ctx, a, t0.Add(time.Minute), time.Hour); err != nil || a.Version != 2 {
		t.Fatalf("Put = %v (version %d)", err, a.Version)
	}
	b.Attempt = 1
	if err := s.Put(ctx, b, t0, time.Hour); !errors.Is(err, ErrConflict) || b.Version != 1 {
		t.Fatalf("stale Put = %v (version %d), want ErrConflict", err, b.Version)
	}
	if ids, _ := s.Due(ctx, t0.Add(30*time.Second), 10); len(ids) != 0 {
		t.Fatalf("Due before its time: %v", ids)
	}
	got, err := s.Get(ctx, "C1")
	if err != nil || got.Attempt != 1 || got.Version != 2 || got.Request.MeterID != "MTR-1" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	got.Outcome = &events.MeterCommandOutcome{Outcome: events.OutcomeAcknowledged}
	got.Published = true
	if err := s.Put(ctx, got, time.Time{}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Due(ctx, t0.Add(time.Hour), 10); len(ids) != 0 {
		t.Fatalf("a finished command is due: %v", ids)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an unknown id: %v", err)
	}
}

func TestMemoryStore(t *testing.T) { testStore(t, NewMemoryStore()) }

func redisClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("WATERSHED_TEST_REDIS")
	if url == "" {
		msg := "WATERSHED_TEST_REDIS not set: no Redis (run scripts/testenv/up.sh and source scripts/testenv/.state/env)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg) // CI has the real servers: a skip there would hide the test
		}
		t.Skip(msg)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	prefix := "ws:test-" + contracts.NewID()[:8] + ":cmd:"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := c.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		_ = c.Close()
	})
	return c, prefix
}

func TestIntegrationRedisStore(t *testing.T) {
	c, prefix := redisClient(t)
	testStore(t, NewRedisStore(c, prefix))
	// A finished command expires after its retention; a pending one never.
	ttl, err := c.PTTL(context.Background(), prefix+"c:C1").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL of a finished command %v, %v: want the retention (1h)", ttl, err)
	}
}

// TestIntegrationRestartNeitherLosesNorDoubles stops the dispatcher with a
// command in flight and starts another on the same Redis: the command goes
// on from where it was (attempt 2, not a new attempt 1), and ends once.
func TestIntegrationRestartNeitherLosesNorDoubles(t *testing.T) {
	c, prefix := redisClient(t)
	cfg := testConfig()
	start := func() fixture {
		svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Attach(svc, cfg, NewRedisStore(c, prefix), nil); err != nil {
			t.Fatal(err)
		}
		return fixture{Kit: riverstest.New(t, svc)}
	}
	f := start()
	r := events.MeterCommandRequested{CommandID: "R1", MeterID: "MTR-1", Command: events.CommandConnect, RequestedBy: "operator:t"}
	f.request(r)
	f.advance(200 * time.Millisecond)
	if a := f.attempts(t); len(a) != 1 || a[0].Attempt != 1 {
		t.Fatalf("attempts before the restart %+v", a)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}

	g := start() // its clock starts again at riverstest.Start: attempt 1 was sent then
	g.request(r) // the request read again (its offset was not committed, say): a duplicate
	g.advance(200 * time.Millisecond)
	if a := g.attempts(t); len(a) != 0 {
		t.Fatalf("attempts right after the restart %+v, want none: attempt 1 is waiting for its ack", a)
	}
	g.advance(11*time.Second + 200*time.Millisecond) // ack timeout 10 s + backoff 1 s
	a := g.attempts(t)
	if len(a) != 1 || a[0].Attempt != 2 {
		t.Fatalf("attempts after the timeout %+v, want attempt 2", a)
	}
	g.ack(a[0], events.AckCompleted, "")
	g.advance(200 * time.Millisecond)
	if o := g.outcomes(t); len(o) != 1 || o[0].Outcome != events.OutcomeAcknowledged || o[0].Attempts != 2 {
		t.Fatalf("outcomes %+v", o)
	}
	if n := g.Metric("watershed_commands_requested_total", "result", "duplicate"); n != 1 {
		t.Errorf("duplicate requests %v, want 1", n)
	}
}
