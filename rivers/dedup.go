package rivers

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DedupStore remembers which events a service has seen, so a duplicate
// delivery (the same ce_source and ce_id) is dropped before its handler.
// Keys are remembered for a window chosen by the store. The in-memory
// [MemoryDedup] is the default; a shared store (Redis, in the ponds module)
// de-duplicates across instances and restarts.
//
// Implementations are safe for concurrent use (of concurrent first Seen
// of one key exactly one returns false) and pass riverstest.RunDedupSuite.
// When a store fails, the service logs, counts and processes the event: a
// duplicate is better than a loss.
type DedupStore interface {
	// Seen records key and reports whether it was already recorded within
	// the window.
	Seen(ctx context.Context, key string) (bool, error)
	// Forget removes key, so an event whose processing did not complete (it
	// will be delivered again, or was dead-lettered and may be replayed) is
	// not mistaken for a duplicate.
	Forget(ctx context.Context, key string) error
}

// MemoryDedup is an in-memory [DedupStore] bounded in time and size: a key
// is remembered for the window, and when more than size keys are
// remembered, the oldest are forgotten first. It keeps a 64-bit hash of each
// key, not the key: its memory is about 50 bytes a key whatever the keys'
// length (an attacker's 100 KB ce_id costs what a UUID costs). Two keys
// share a hash with a probability of about size/2^64 per lookup, which would
// drop an event as a duplicate: at the default size, once in ~10^14 events.
type MemoryDedup struct {
	window time.Duration
	size   int
	now    func() time.Time
	seed   maphash.Seed

	mu    sync.Mutex
	seen  map[uint64]uint64 // key hash → the seq of its newest recording
	seq   uint64
	order []dedupEntry // FIFO ring of recordings
	head  int          // index of the oldest entry in order
	n     int          // entries in order
}

type dedupEntry struct {
	hash uint64
	at   int64  // unix nanoseconds
	seq  uint64 // tells a key's recordings apart
}

// Defaults of the in-memory de-duplication store.
const (
	DefaultDedupWindow = 10 * time.Minute
	DefaultDedupSize   = 100_000
)

// NewMemoryDedup returns a store that remembers up to size keys for
// window each. Zero values mean [DefaultDedupWindow] and [DefaultDedupSize].
// now is the time source; nil means time.Now.
func NewMemoryDedup(window time.Duration, size int, now func() time.Time) *MemoryDedup {
	if window <= 0 {
		window = DefaultDedupWindow
	}
	if size <= 0 {
		size = DefaultDedupSize
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryDedup{window: window, size: size, now: now, seed: maphash.MakeSeed(),
		seen: make(map[uint64]uint64, min(size, 4096)), order: make([]dedupEntry, min(size, 4096))}
}

// Seen records key and reports whether it was recorded within the window.
func (m *MemoryDedup) Seen(_ context.Context, key string) (bool, error) {
	h := maphash.String(m.seed, key)
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evict(now)
	if _, ok := m.seen[h]; ok {
		return true, nil // evict removed every recording older than the window
	}
	if m.n == m.size {
		m.drop()
	}
	m.seq++
	m.seen[h] = m.seq
	m.push(dedupEntry{hash: h, at: now, seq: m.seq})
	return false, nil
}

// Forget removes key.
func (m *MemoryDedup) Forget(_ context.Context, key string) error {
	h := maphash.String(m.seed, key)
	m.mu.Lock()
	delete(m.seen, h)
	m.mu.Unlock()
	return nil
}

// Len returns how many keys are remembered.
func (m *MemoryDedup) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// evict forgets entries older than the window, oldest first.
func (m *MemoryDedup) evict(now int64) {
	for m.n > 0 {
		if now-m.order[m.head].at < int64(m.window) {
			return
		}
		m.drop()
	}
}

// drop removes the oldest entry; its key is forgotten unless it was
// recorded again later (then a newer entry holds it).
func (m *MemoryDedup) drop() {
	e := m.order[m.head]
	m.order[m.head] = dedupEntry{}
	m.head = (m.head + 1) % len(m.order)
	m.n--
	if cur, ok := m.seen[e.hash]; ok && cur == e.seq {
		delete(m.seen, e.hash)
	}
}

func (m *MemoryDedup) push(e dedupEntry) {
	if m.n == len(m.order) { // grow the ring, up to size
		grown := make([]dedupEntry, min(max(2*len(m.order), 16), m.size))
		for i := range m.n {
			grown[i] = m.order[(m.head+i)%len(m.order)]
		}
		m.order, m.head = grown, 0
	}
	m.order[(m.head+m.n)%len(m.order)] = e
	m.n++
}
