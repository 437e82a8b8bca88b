package hot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDedupStore(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	d := NewDedupStore(client, &DedupOptions{KeyPrefix: prefix, Window: time.Minute})

	seen, err := d.Seen(ctx, "evt-1")
	if err != nil || seen {
		t.Fatalf("first Seen = %v, %v; want false", seen, err)
	}
	if seen, _ := d.Seen(ctx, "evt-1"); !seen {
		t.Fatal("second Seen = false; want true")
	}
	if ttl := client.PTTL(ctx, prefix+"seen:evt-1").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("seen key TTL = %v, want (0, 1m]", ttl)
	}
	if err := d.Forget(ctx, "evt-1"); err != nil {
		t.Fatal(err)
	}
	if seen, _ := d.Seen(ctx, "evt-1"); seen {
		t.Fatal("Seen after Forget = true")
	}

	short := NewDedupStore(client, &DedupOptions{KeyPrefix: prefix, Window: 50 * time.Millisecond})
	if seen, _ := short.Seen(ctx, "evt-short"); seen {
		t.Fatal("first Seen(evt-short) = true")
	}
	if seen, _ := short.Seen(ctx, "evt-short"); !seen {
		t.Fatal("second Seen(evt-short) within the window = false")
	}
	time.Sleep(120 * time.Millisecond)
	if seen, _ := short.Seen(ctx, "evt-short"); seen {
		t.Fatal("Seen after the window passed = true; want false")
	}
	if def := NewDedupStore(client, nil); def.window != DefaultDedupWindow || def.keys.prefix != DefaultKeyPrefix {
		t.Fatalf("defaults: window %v prefix %q", def.window, def.keys.prefix)
	}
}

func TestDedupStoreRace(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	d := NewDedupStore(client, &DedupOptions{KeyPrefix: prefix})
	var first atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			seen, err := d.Seen(ctx, "contended")
			if err != nil {
				t.Error(err)
			}
			if !seen {
				first.Add(1)
			}
		})
	}
	wg.Wait()
	if n := first.Load(); n != 1 {
		t.Fatalf("%d of 16 racing callers saw the key first, want exactly 1", n)
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
// its digest, so a 120 KB event id costs Redis a 71-byte key, and still
// de-duplicates.
func TestDedupStoreBoundsLongKeys(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	d := NewDedupStore(client, &DedupOptions{KeyPrefix: prefix, Window: time.Minute})
	long := strings.Repeat("x", 120_000)
	if seen, err := d.Seen(ctx, long); err != nil || seen {
		t.Fatalf("first Seen = %v, %v; want false", seen, err)
	}
	if seen, _ := d.Seen(ctx, long); !seen {
		t.Fatal("second Seen of the long key = false; want true")
	}
	if seen, _ := d.Seen(ctx, long[:len(long)-1]+"y"); seen {
		t.Fatal("another long key was seen")
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
