package riverstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/watershed-grid/watershed/rivers"
)

// RunDedupSuite checks that a [rivers.DedupStore] keeps the contract the
// rivers SDK relies on. The in-memory [rivers.MemoryDedup] and the Redis
// store of ponds/hot pass it; a store of your own must too. newStore
// returns a store for one subtest (stores may share a backend: the suite's
// keys are unique to each run). It checks that
//
//   - a key's first Seen is false, every later one true;
//   - Forget makes a key unseen, and forgetting an unknown key is no error;
//   - keys are independent, including keys that share a long prefix;
//   - of many concurrent Seen of one key, exactly one returns false;
//   - long keys (100 KB) work and are told apart.
//
// How long a key is remembered (the window) is each store's own: test it
// beside the store.
func RunDedupSuite(t *testing.T, newStore func(t *testing.T) rivers.DedupStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, d rivers.DedupStore, key func(string) string)
	}{
		{"SeenOnce", dedupSeenOnce},
		{"Forget", dedupForget},
		{"KeysIndependent", dedupIndependent},
		{"ConcurrentSeen", dedupConcurrent},
		{"LongKeys", dedupLongKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b [6]byte
			_, _ = rand.Read(b[:])
			run := hex.EncodeToString(b[:])
			tc.run(t, newStore(t), func(k string) string { return "dedup-suite-" + run + "-" + k })
		})
	}
}

func seen(t *testing.T, d rivers.DedupStore, key string) bool {
	t.Helper()
	s, err := d.Seen(t.Context(), key)
	if err != nil {
		t.Fatalf("Seen(%.40q): %v", key, err)
	}
	return s
}

func dedupSeenOnce(t *testing.T, d rivers.DedupStore, key func(string) string) {
	k := key("evt-1")
	if seen(t, d, k) {
		t.Fatal("first Seen = true, want false")
	}
	for i := range 3 {
		if !seen(t, d, k) {
			t.Fatalf("Seen number %d = false, want true", i+2)
		}
	}
}

func dedupForget(t *testing.T, d rivers.DedupStore, key func(string) string) {
	ctx := t.Context()
	k := key("evt-forget")
	if seen(t, d, k) {
		t.Fatal("first Seen = true")
	}
	if err := d.Forget(ctx, k); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if seen(t, d, k) {
		t.Fatal("Seen after Forget = true, want false")
	}
	if !seen(t, d, k) {
		t.Fatal("second Seen after Forget = false, want true")
	}
	if err := d.Forget(ctx, key("never-seen")); err != nil {
		t.Fatalf("Forget of a key never seen: %v", err)
	}
	if seen(t, d, key("never-seen")) {
		t.Fatal("Forget of an unknown key made it seen")
	}
}

func dedupIndependent(t *testing.T, d rivers.DedupStore, key func(string) string) {
	ctx := t.Context()
	long := strings.Repeat("p", 300)
	ks := []string{key("a"), key("b"), key("A"), key("a "), key(long + "1"), key(long + "2"), key("")}
	for _, k := range ks {
		if seen(t, d, k) {
			t.Fatalf("first Seen(%.40q) = true: another key's Seen leaked into it", k)
		}
	}
	for _, k := range ks {
		if !seen(t, d, k) {
			t.Fatalf("second Seen(%.40q) = false", k)
		}
	}
	if err := d.Forget(ctx, ks[0]); err != nil {
		t.Fatal(err)
	}
	if !seen(t, d, ks[1]) {
		t.Fatal("Forget of one key made another unseen")
	}
}

func dedupConcurrent(t *testing.T, d rivers.DedupStore, key func(string) string) {
	const callers = 32
	for round := range 3 {
		k := key("contended-" + strconv.Itoa(round))
		var first atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range callers {
			wg.Go(func() {
				<-start
				s, err := d.Seen(context.WithoutCancel(t.Context()), k)
				if err != nil {
					t.Error(err)
					return
				}
				if !s {
					first.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := first.Load(); n != 1 {
			t.Fatalf("round %d: %d of %d concurrent Seen of one key returned false, want exactly 1", round, n, callers)
		}
	}
}

func dedupLongKeys(t *testing.T, d rivers.DedupStore, key func(string) string) {
	long := key(strings.Repeat("x", 100_000))
	other := long[:len(long)-1] + "y"
	if seen(t, d, long) {
		t.Fatal("first Seen of a 100 KB key = true")
	}
	if !seen(t, d, long) {
		t.Fatal("second Seen of a 100 KB key = false")
	}
	if seen(t, d, other) {
		t.Fatal("a 100 KB key differing in its last byte was seen")
	}
	if err := d.Forget(t.Context(), long); err != nil {
		t.Fatalf("Forget of a 100 KB key: %v", err)
	}
	if seen(t, d, long) {
		t.Fatal("Seen of a 100 KB key after Forget = true")
	}
}
