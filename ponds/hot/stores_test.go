package hot

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestDedupStoreSuite: the Redis duplicate store keeps the rivers
// DedupStore contract (riverstest.RunDedupSuite: seen once, Forget,
// independent keys, exactly one first of concurrent callers, long keys).
func TestDedupStoreSuite(t *testing.T) {
	riverstest.RequireServer(t, riverstest.EnvRedis, "Redis")
	riverstest.RunDedupSuite(t, func(t *testing.T) rivers.DedupStore {
		client, prefix := testRedis(t)
		return NewDedupStore(client, &DedupOptions{KeyPrefix: prefix, Window: time.Minute})
	})
}

// TestDedupStoreWindow: what the suite leaves to the store: a key lives in
// Redis for the window (its TTL), is forgotten once the window has passed,
// and the options default.
func TestDedupStoreWindow(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	d := NewDedupStore(client, &DedupOptions{KeyPrefix: prefix, Window: time.Minute})

	if seen, err := d.Seen(ctx, "evt-1"); err != nil || seen {
		t.Fatalf("first Seen = %v, %v; want false", seen, err)
	}
	if ttl := client.PTTL(ctx, prefix+"seen:evt-1").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("seen key TTL = %v, want (0, 1m]", ttl)
	}

	short := NewDedupStore(client, &DedupOptions{KeyPrefix: prefix, Window: 50 * time.Millisecond})
	if seen, _ := short.Seen(ctx, "evt-short"); seen {
		t.Fatal("first Seen(evt-short) = true")
	}
	if seen, _ := short.Seen(ctx, "evt-short"); !seen {
		t.Fatal("second Seen(evt-short) within the window = false")
	}
	// Redis expires the key on its own clock: wait for it to be gone.
	riverstest.WaitFor(t, 30*time.Second, "the 50ms window to pass", func() bool {
		return client.Exists(ctx, prefix+"seen:evt-short").Val() == 0
	})
	if seen, _ := short.Seen(ctx, "evt-short"); seen {
		t.Fatal("Seen after the window passed = true; want false")
	}
	if def := NewDedupStore(client, nil); def.window != DefaultDedupWindow || def.keys.prefix != DefaultKeyPrefix {
		t.Fatalf("defaults: window %v prefix %q", def.window, def.keys.prefix)
	}
}

func TestCheckpointStore(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	s := NewCheckpointStore(client, prefix)
	if _, err := s.Load(ctx, "gap-detector"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load before Save err = %v, want ErrNotFound", err)
	}
	blob := []byte{0, 1, 2, 255, '\n', 'x'} // binary-safe
	if err := s.Save(ctx, "gap-detector", blob); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "other", []byte("o")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, "gap-detector")
	if err != nil || string(got) != string(blob) {
		t.Fatalf("Load = %q, %v; want %q", got, err, blob)
	}
	if err := s.Save(ctx, "gap-detector", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "gap-detector"); string(got) != "v2" {
		t.Fatalf("Load after second Save = %q", got)
	}
	if err := s.Delete(ctx, "gap-detector"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "gap-detector"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load after Delete err = %v", err)
	}
	if got, _ := s.Load(ctx, "other"); string(got) != "o" {
		t.Fatalf("Delete touched another checkpoint: %q", got)
	}
}

// TestDedupStoreBoundsLongKeys: a key past maxPlainKeyBytes is stored as
// its digest, so a 120 KB event id costs Redis a 71-byte key (that long
// keys still de-duplicate is the suite's LongKeys).
func TestDedupStoreBoundsLongKeys(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	d := NewDedupStore(client, &DedupOptions{KeyPrefix: prefix, Window: time.Minute})
	long := strings.Repeat("x", 120_000)
	for _, k := range []string{long, long[:len(long)-1] + "y"} {
		if _, err := d.Seen(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := client.Keys(ctx, prefix+"seen:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if len(k) > len(prefix)+len("seen:")+maxPlainKeyBytes {
			t.Errorf("Redis key of %d bytes", len(k))
		}
	}
	if len(keys) != 2 {
		t.Errorf("%d keys, want 2", len(keys))
	}
}
