package alertrouter

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Collections and lists of the store.
const (
	collAlerts   = "alerts"
	collGroups   = "groups"
	collSilences = "silences"
	collOutbox   = "outbox" // notifications waiting to be delivered
	collDead     = "dead"   // notifications that could not be delivered
	collDLQ      = "dlq"    // the DLQ watch's last end offsets
	listHistory  = "deliveries"
)

// Batch is one atomic change of the store: records to write (collection →
// id → JSON) and ids to delete, then values to add to bounded lists.
type Batch struct {
	Put    map[string]map[string][]byte
	Delete map[string][]string
	// Append adds to the front of a list that keeps its newest Keep values.
	Append map[string][][]byte
	Keep   int
}

// put adds a record to the batch.
func (b *Batch) put(coll, id string, v []byte) {
	if b.Put == nil {
		b.Put = map[string]map[string][]byte{}
	}
	if b.Put[coll] == nil {
		b.Put[coll] = map[string][]byte{}
	}
	b.Put[coll][id] = v
	if b.Delete != nil {
		b.Delete[coll] = slices.DeleteFunc(b.Delete[coll], func(s string) bool { return s == id })
	}
}

func (b *Batch) del(coll, id string) {
	if b.Delete == nil {
		b.Delete = map[string][]string{}
	}
	b.Delete[coll] = append(b.Delete[coll], id)
	if b.Put != nil {
		delete(b.Put[coll], id)
	}
}

func (b *Batch) appendTo(list string, v []byte) {
	if b.Append == nil {
		b.Append = map[string][][]byte{}
	}
	b.Append[list] = append(b.Append[list], v)
}

func (b *Batch) empty() bool {
	n := 0
	for _, m := range b.Put {
		n += len(m)
	}
	for _, d := range b.Delete {
		n += len(d)
	}
	for _, a := range b.Append {
		n += len(a)
	}
	return n == 0
}

// Store keeps the router's state: its alerts, groups, silences, outbox and
// delivery history. The router holds everything in memory and writes each
// change through before it acknowledges the event or the request that made
// it, so a restart (which loads everything back) neither loses an alert
// nor re-sends a notification. Implementations are safe for concurrent use.
type Store interface {
	// Write applies the batch atomically.
	Write(ctx context.Context, b Batch) error
	// All returns every record of a collection.
	All(ctx context.Context, coll string) (map[string][]byte, error)
	// List returns up to n values of a list, newest first.
	List(ctx context.Context, list string, n int) ([][]byte, error)
}

// MemoryStore is a Store in memory: for tests, and for `watershed dev`
// without Redis. A restart forgets everything.
type MemoryStore struct {
	mu    sync.Mutex
	colls map[string]map[string][]byte
	lists map[string][][]byte
	// Fail, when set, is returned by Write (tests of a failing store).
	Fail error
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{colls: map[string]map[string][]byte{}, lists: map[string][][]byte{}}
}

// Write implements Store.
func (m *MemoryStore) Write(_ context.Context, b Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	for c, ids := range b.Delete {
		for _, id := range ids {
			delete(m.colls[c], id)
		}
	}
	for c, recs := range b.Put {
		if m.colls[c] == nil {
			m.colls[c] = map[string][]byte{}
		}
		for id, v := range recs {
			m.colls[c][id] = slices.Clone(v)
		}
	}
	for l, vs := range b.Append {
		for _, v := range vs {
			m.lists[l] = append([][]byte{slices.Clone(v)}, m.lists[l]...)
		}
		if b.Keep > 0 && len(m.lists[l]) > b.Keep {
			m.lists[l] = m.lists[l][:b.Keep]
		}
	}
	return nil
}

// All implements Store.
func (m *MemoryStore) All(_ context.Context, coll string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]byte, len(m.colls[coll]))
	for k, v := range m.colls[coll] {
		out[k] = slices.Clone(v)
	}
	return out, nil
}

// List implements Store.
func (m *MemoryStore) List(_ context.Context, list string, n int) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lists[list]
	return slices.Clone(l[:min(n, len(l))]), nil
}

// RedisStore is the durable Store: a hash per collection and a list per
// history, under a prefix, each Write one MULTI/EXEC transaction. The
// service's Redis user needs ~<prefix>* and hset hdel hgetall lpush ltrim
// lrange multi exec.
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore returns a RedisStore on c with keys under prefix.
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{c: c, prefix: prefix}
}

// Write implements Store.
func (s *RedisStore) Write(ctx context.Context, b Batch) error {
	if b.empty() {
		return nil
	}
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for c, ids := range b.Delete {
			if len(ids) > 0 {
				p.HDel(ctx, s.prefix+c, ids...)
			}
		}
		for c, recs := range b.Put {
			if len(recs) == 0 {
				continue
			}
			args := make([]any, 0, 2*len(recs))
			for id, v := range recs {
				args = append(args, id, v)
			}
			p.HSet(ctx, s.prefix+c, args...)
		}
		for l, vs := range b.Append {
			args := make([]any, len(vs))
			for i, v := range vs {
				args[i] = v
			}
			p.LPush(ctx, s.prefix+l, args...)
			if b.Keep > 0 {
				p.LTrim(ctx, s.prefix+l, 0, int64(b.Keep-1))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("alert-router: redis store: %w", err)
	}
	return nil
}

// All implements Store.
func (s *RedisStore) All(ctx context.Context, coll string) (map[string][]byte, error) {
	m, err := s.c.HGetAll(ctx, s.prefix+coll).Result()
	if err != nil {
		return nil, fmt.Errorf("alert-router: redis store: %w", err)
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}

// List implements Store.
func (s *RedisStore) List(ctx context.Context, list string, n int) ([][]byte, error) {
	vs, err := s.c.LRange(ctx, s.prefix+list, 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("alert-router: redis store: %w", err)
	}
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out, nil
}
