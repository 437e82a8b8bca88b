package dispatcher

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// Store errors.
var (
	// ErrNotFound: no command with that id (never taken, or forgotten
	// after Config.Retention).
	ErrNotFound = errors.New("command-dispatcher: command not found")
	// ErrConflict: the command changed since it was read (another
	// instance, or a handler and the timer at once). Read it again.
	ErrConflict = errors.New("command-dispatcher: command changed concurrently")
)

// Record is one command as the dispatcher keeps it: the request, where it
// stands, and its outcome once decided.
type Record struct {
	// Version counts the writes; Put succeeds only on the version read.
	Version int64 `json:"version"`

	Request     events.MeterCommandRequested `json:"request"` // MaxAttempts and AckTimeoutSeconds resolved
	RequestedAt time.Time                    `json:"requested_at"`
	ExpiresAt   time.Time                    `json:"expires_at,omitzero"`  // the request's use-by; zero: none
	RequestID   string                       `json:"request_id,omitempty"` // ce_id of the request or missed read

	// Attempt is the attempts sent so far; SentAt when the last one was.
	Attempt int       `json:"attempt"`
	SentAt  time.Time `json:"sent_at,omitzero"`
	// LastAck is the latest ack received, if any.
	LastAck *events.MeterCommandAck `json:"last_ack,omitempty"`

	// Outcome is set once decided; Published once it is on the rivers.
	Outcome   *events.MeterCommandOutcome `json:"outcome,omitempty"`
	Published bool                        `json:"published,omitempty"`
}

// Store keeps commands durably and says which are due. Implementations are
// safe for concurrent use and shared by every instance of the dispatcher:
// Put's version check makes each decision once.
type Store interface {
	// Create stores r (Version 1) due at due, unless a command with its id
	// exists: then it returns false and changes nothing.
	Create(ctx context.Context, r *Record, due time.Time) (bool, error)
	// Get returns the command with id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Record, error)
	// Put replaces the command if its stored Version is r.Version (else
	// ErrConflict), increments r.Version, and makes it due at due; a zero
	// due takes it off the schedule and lets it expire after retention.
	Put(ctx context.Context, r *Record, due time.Time, retention time.Duration) error
	// Due returns up to limit ids of commands due at or before now,
	// earliest first.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// MemoryStore is a Store in memory: for tests and single-process tools. It
// is not durable and ignores retention.
type MemoryStore struct {
	mu   sync.Mutex
	recs map[string]Record
	due  map[string]time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{recs: map[string]Record{}, due: map[string]time.Time{}}
}

func clone(r Record) *Record {
	c := r
	if r.LastAck != nil {
		a := *r.LastAck
		c.LastAck = &a
	}
	if r.Outcome != nil {
		o := *r.Outcome
		c.Outcome = &o
	}
	return &c
}

// Create implements Store.
func (m *MemoryStore) Create(_ context.Context, r *Record, due time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := r.Request.CommandID
	if _, ok := m.recs[id]; ok {
		return false, nil
	}
	r.Version = 1
	m.recs[id] = *clone(*r)
	m.due[id] = due
	return true, nil
}

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, id string) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	if !ok {
		return nil, ErrNotFound
	}
	return clone(r), nil
}

// Put implements Store.
func (m *MemoryStore) Put(_ context.Context, r *Record, due time.Time, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := r.Request.CommandID
	cur, ok := m.recs[id]
	if !ok {
		return ErrNotFound
	}
	if cur.Version != r.Version {
		return ErrConflict
	}
	r.Version++
	m.recs[id] = *clone(*r)
	if due.IsZero() {
		delete(m.due, id)
	} else {
		m.due[id] = due
	}
	return nil
}

// Due implements Store.
func (m *MemoryStore) Due(_ context.Context, now time.Time, limit int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, at := range m.due {
		if !at.After(now) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := m.due[a].Compare(m.due[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	if len(ids) > limit {
		ids = ids[:limit]
	}
	return ids, nil
}
