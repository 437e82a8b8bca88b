package demandtracker

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Volume counts the events seen on the rivers per type and producer, and
// how many of them were consumed: an event is consumed when a later event
// names it as its cause (ce_causationid), so a producer's output counts as
// consumed only when some service acted on it. Where two versions of one
// service publish the same type, this is what says which output the
// ecosystem uses ("may the best service win"). Methods are safe for
// concurrent use.
type Volume struct {
	mu     sync.Mutex
	types  map[string]*typeVolume
	recent map[string]causeRef // event id -> producer, bounded FIFO
	order  []string
	next   int
}

type causeRef struct{ typ, producer string }

type typeVolume struct {
	events   int64
	last     time.Time
	produced map[string]int64 // producer -> events
	consumed map[string]int64 // producer -> events that caused another
}

// ProducerVolume is one producer's share of a type.
type ProducerVolume struct {
	Producer string `json:"producer"` // ce_source, plus "@version" when the event says
	Events   int64  `json:"events"`
	Consumed int64  `json:"consumed"` // events some later event names as its cause
}

// TypeVolume is the observed volume of one type.
type TypeVolume struct {
	Type      string           `json:"type"`
	Events    int64            `json:"events"`
	LastAt    time.Time        `json:"last_at,omitzero"`
	Producers []ProducerVolume `json:"producers"`
}

// NewVolume returns a counter that remembers the last window event ids to
// match causes (default 100000 when window <= 0).
func NewVolume(window int) *Volume {
	if window <= 0 {
		window = 100000
	}
	return &Volume{types: map[string]*typeVolume{}, recent: make(map[string]causeRef, window), order: make([]string, window)}
}

// Observe counts one event: its id, type, producer and cause.
func (v *Volume) Observe(id, typ, producer, causationID string, at time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	tv := v.types[typ]
	if tv == nil {
		tv = &typeVolume{produced: map[string]int64{}, consumed: map[string]int64{}}
		v.types[typ] = tv
	}
	tv.events++
	tv.produced[producer]++
	if at.After(tv.last) {
		tv.last = at
	}
	if causationID != "" {
		if c, ok := v.recent[causationID]; ok {
			v.types[c.typ].consumed[c.producer]++
			delete(v.recent, causationID) // count each cause once
		}
	}
	if id == "" {
		return
	}
	if old := v.order[v.next]; old != "" {
		delete(v.recent, old)
	}
	v.order[v.next] = id
	v.next = (v.next + 1) % len(v.order)
	v.recent[id] = causeRef{typ: typ, producer: producer}
}

// Snapshot returns every type's volume, by type, producers by name.
func (v *Volume) Snapshot() []TypeVolume {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]TypeVolume, 0, len(v.types))
	for name, tv := range v.types {
		t := TypeVolume{Type: name, Events: tv.events, LastAt: tv.last, Producers: []ProducerVolume{}}
		for p, n := range tv.produced {
			t.Producers = append(t.Producers, ProducerVolume{Producer: p, Events: n, Consumed: tv.consumed[p]})
		}
		slices.SortFunc(t.Producers, func(a, b ProducerVolume) int { return cmp.Compare(a.Producer, b.Producer) })
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b TypeVolume) int { return cmp.Compare(a.Type, b.Type) })
	return out
}
