package loadforecaster

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Store keeps each feeder's closed hours, so a restarted forecaster
// forecasts at once instead of after a day of grid time. One feeder is
// written by one handler at a time (feeder windows are keyed by feeder).
type Store interface {
	// Hours returns the feeder's closed hours (hour start → mean kW).
	Hours(ctx context.Context, feederID string) (map[int64]float64, error)
	// Put records one closed hour and forgets the hours in gone.
	Put(ctx context.Context, feederID string, start int64, loadKW float64, gone []int64) error
}

// memoryStore keeps nothing across restarts.
type memoryStore struct {
	mu sync.Mutex
	m  map[string]map[int64]float64
}

// NewMemoryStore returns a Store in memory.
func NewMemoryStore() Store { return &memoryStore{m: map[string]map[int64]float64{}} }

func (s *memoryStore) Hours(_ context.Context, id string) (map[int64]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]float64{}
	for k, v := range s.m[id] {
		out[k] = v
	}
	return out, nil
}

func (s *memoryStore) Put(_ context.Context, id string, start int64, load float64, gone []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[id] == nil {
		s.m[id] = map[int64]float64{}
	}
	s.m[id][start] = load
	for _, g := range gone {
		delete(s.m[id], g)
	}
	return nil
}

// RedisStore keeps a feeder's hours in the hash <prefix>feeder:<id>, one
// field per hour (its unix start).
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore returns the store in c under prefix ("" for
// "ws:forecast:", inside the compose ACL's ws:*).
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	if prefix == "" {
		prefix = "ws:forecast:"
	}
	return &RedisStore{c: c, prefix: prefix}
}

// Ping checks Redis answers (the readiness check "store").
func (s *RedisStore) Ping(ctx context.Context) error { return s.c.Ping(ctx).Err() }

func (s *RedisStore) Hours(ctx context.Context, id string) (map[int64]float64, error) {
	h, err := s.c.HGetAll(ctx, s.prefix+"feeder:"+id).Result()
	if err != nil {
		return nil, fmt.Errorf("load-forecaster: redis: %w", err)
	}
	out := make(map[int64]float64, len(h))
	for k, v := range h {
		t, err1 := strconv.ParseInt(k, 10, 64)
		f, err2 := strconv.ParseFloat(v, 64)
		if err1 == nil && err2 == nil {
			out[t] = f
		}
	}
	return out, nil
}

func (s *RedisStore) Put(ctx context.Context, id string, start int64, load float64, gone []int64) error {
	key := s.prefix + "feeder:" + id
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, strconv.FormatInt(start, 10), strconv.FormatFloat(load, 'f', -1, 64))
		for _, g := range gone {
			p.HDel(ctx, key, strconv.FormatInt(g, 10))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load-forecaster: redis: %w", err)
	}
	return nil
}
