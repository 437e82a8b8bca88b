package rivers

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMemoryDedupWindow(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewMemoryDedup(time.Minute, 100, func() time.Time { return now })
	ctx := context.Background()
	seen := func(k string) bool {
		t.Helper()
		s, err := d.Seen(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if seen("a") {
		t.Fatal("a seen before it was recorded")
	}
	if !seen("a") {
		t.Fatal("a not seen right after it was recorded")
	}
	now = now.Add(59 * time.Second)
	if !seen("a") {
		t.Fatal("a forgotten inside the window")
	}
	now = now.Add(2 * time.Second)
	if seen("a") {
		t.Fatal("a remembered past the window")
	}
	if err := d.Forget(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if seen("a") {
		t.Fatal("a remembered after Forget")
	}
}

func TestMemoryDedupSizeBound(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewMemoryDedup(time.Hour, 3, func() time.Time { return now })
	ctx := context.Background()
	for i := range 5 {
		if s, _ := d.Seen(ctx, strconv.Itoa(i)); s {
			t.Fatalf("%d seen on first sight", i)
		}
	}
	if d.Len() != 3 {
		t.Fatalf("Len = %d, want the bound 3", d.Len())
	}
	if s, _ := d.Seen(ctx, "0"); s {
		t.Error("the oldest key survived past the size bound")
	}
	if s, _ := d.Seen(ctx, "4"); !s {
		t.Error("the newest key was forgotten")
	}
}

func TestMemoryDedupForgetThenSeenAgainSameInstant(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewMemoryDedup(time.Hour, 2, func() time.Time { return now })
	ctx := context.Background()
	d.Seen(ctx, "a")
	d.Forget(ctx, "a")
	d.Seen(ctx, "a") // recorded again at the same instant
	d.Seen(ctx, "b") // evicts the first, stale recording of a
	if s, _ := d.Seen(ctx, "a"); !s {
		t.Error("evicting a stale recording forgot the live one")
	}
}

func BenchmarkMemoryDedupSeen(b *testing.B) {
	d := NewMemoryDedup(time.Minute, DefaultDedupSize, nil)
	ctx := context.Background()
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "/services/meter-simulator\x00" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Seen(ctx, keys[i%len(keys)])
		i++
	}
}

func TestMemoryDedupTellsLongKeysApartAndStaysBounded(t *testing.T) {
	m := NewMemoryDedup(time.Hour, 100, nil)
	long := strings.Repeat("x", 120_000)
	ctx := context.Background()
	for i := range 1000 {
		key := long + strconv.Itoa(i)
		if seen, _ := m.Seen(ctx, key); seen {
			t.Fatalf("key %d seen before it was recorded", i)
		}
		if seen, _ := m.Seen(ctx, key); !seen {
			t.Fatalf("key %d not seen right after it was recorded", i)
		}
	}
	if n := m.Len(); n != 100 {
		t.Fatalf("%d keys remembered, want the size bound 100", n)
	}
}
