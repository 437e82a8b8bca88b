package rivers

import (
	"context"
	"sync"
	"time"
)

// DedupStore remembers which events a service has seen, so a duplicate
// delivery (the same ce_source and ce_id) is dropped before its handler.
// Keys are remembered for a window chosen by the store. The in-memory
// [MemoryDedup] is the default; a shared store (Redis, in the ponds module)
// de-duplicates across instances and restarts.
//
// Implementations are safe for concurrent use. When a store fails, the
// service logs, counts and processes the event: a duplicate is better than
// a loss.
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
// remembered, the oldest are forgotten first.
type MemoryDedup struct {
	window time.Duration
	size   int
	now    func() time.Time

	mu    sync.Mutex
	seen  map[string]dedupEntry // key → its newest recording
	seq   uint64
	order []dedupEntry // FIFO ring of recordings
	head  int          // index of the oldest entry in order
	n     int          // entries in order
}

type dedupEntry struct {
	key string
	at  time.Time
	seq uint64 // tells a key's recordings apart
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
	return &MemoryDedup{window: window, size: size, now: now,
		seen: make(map[string]dedupEntry, min(size, 4096)), order: make([]dedupEntry, min(size, 4096))}
}

// Seen records key and reports whether it was recorded within the window.
func (m *MemoryDedup) Seen(_ context.Context, key string) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evict(now)
	if e, ok := m.seen[key]; ok && now.Sub(e.at) < m.window {
		return true, nil
	}
	if m.n == m.size {
		m.drop()
	}
	m.seq++
	e := dedupEntry{key: key, at: now, seq: m.seq}
	m.seen[key] = e
	m.push(e)
	return false, nil
}

// Forget removes key.
func (m *MemoryDedup) Forget(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.seen, key)
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
func (m *MemoryDedup) evict(now time.Time) {
	for m.n > 0 {
		e := m.order[m.head]
		if now.Sub(e.at) < m.window {
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
	if cur, ok := m.seen[e.key]; ok && cur.seq == e.seq {
		delete(m.seen, e.key)
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
