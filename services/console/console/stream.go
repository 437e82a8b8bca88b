package console

import (
	"strings"
	"sync"
	"time"
)

// LiveEvent is one business event as the live page shows it.
type LiveEvent struct {
	Seq     uint64    `json:"seq"`
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Source  string    `json:"source"`
	Key     string    `json:"key,omitempty"`
	Time    time.Time `json:"time"`
	Summary string    `json:"summary"`
}

// LiveFilter selects live events: Type is an exact type or a "prefix.*"
// pattern; Text must occur in the type, source, key or summary. System
// events (system.*) are left out unless System.
type LiveFilter struct {
	Type   string
	Text   string
	System bool
}

// Match reports whether e passes f.
func (f LiveFilter) Match(e LiveEvent) bool {
	if !f.System && strings.HasPrefix(e.Type, "system.") && f.Type == "" {
		return false
	}
	if f.Type != "" {
		if p, ok := strings.CutSuffix(f.Type, "*"); ok {
			if !strings.HasPrefix(e.Type, p) {
				return false
			}
		} else if e.Type != f.Type {
			return false
		}
	}
	if f.Text != "" {
		t := strings.ToLower(f.Text)
		if !strings.Contains(strings.ToLower(e.Type+" "+e.Source+" "+e.Key+" "+e.Summary), t) {
			return false
		}
	}
	return true
}

// Ring keeps the latest events and hands new ones to subscribers (the
// live page's server-sent event streams). Safe for concurrent use.
type Ring struct {
	mu   sync.Mutex
	buf  []LiveEvent
	next int // where the next event goes once buf is full
	seq  uint64
	subs map[chan LiveEvent]struct{}
}

// NewRing returns a ring of size events.
func NewRing(size int) *Ring {
	return &Ring{buf: make([]LiveEvent, 0, size), subs: map[chan LiveEvent]struct{}{}}
}

// Add appends e (numbering it) and offers it to every subscriber; a
// subscriber that is not keeping up misses it rather than slowing the
// consumer down.
func (r *Ring) Add(e LiveEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e.Seq = r.seq
	if len(r.buf) < cap(r.buf) {
		r.buf = append(r.buf, e)
	} else {
		r.buf[r.next] = e
		r.next = (r.next + 1) % len(r.buf)
	}
	for c := range r.subs {
		select {
		case c <- e:
		default:
		}
	}
}

// Recent returns the kept events that pass f, oldest first.
func (r *Ring) Recent(f LiveFilter) []LiveEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]LiveEvent, 0, len(r.buf))
	for i := range len(r.buf) {
		e := r.buf[(r.next+i)%len(r.buf)]
		if f.Match(e) {
			out = append(out, e)
		}
	}
	return out
}

// Seq returns the sequence number of the newest event (0 before the first).
func (r *Ring) Seq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// Subscribe returns a channel of new events and the function that ends
// the subscription.
func (r *Ring) Subscribe() (<-chan LiveEvent, func()) {
	c := make(chan LiveEvent, 64)
	r.mu.Lock()
	r.subs[c] = struct{}{}
	r.mu.Unlock()
	return c, func() {
		r.mu.Lock()
		delete(r.subs, c)
		r.mu.Unlock()
	}
}
