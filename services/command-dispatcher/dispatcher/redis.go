package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is the durable Store: one hash per command
// (<prefix>c:<command id>, fields v = version and r = the record as JSON)
// and one sorted set of due commands (<prefix>due, score = due time in
// Unix ms). Every write is one Lua script, so a version check and the
// schedule change together. A finished command's hash expires after the
// retention Put is given; a pending one never expires. Keys of one
// dispatcher share a prefix: a Redis Cluster would need a hash tag in it
// (e.g. "ws:{cmd}:").
type RedisStore struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisStore returns a RedisStore on client with keys under prefix.
func NewRedisStore(client redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{client: client, prefix: prefix}
}

func (s *RedisStore) key(id string) string { return s.prefix + "c:" + id }
func (s *RedisStore) dueKey() string       { return s.prefix + "due" }

var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', 1, 'r', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
`)

var putScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', tonumber(ARGV[1]) + 1, 'r', ARGV[2])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  redis.call('PERSIST', KEYS[1])
end
return 1
`)

// Create implements Store.
func (s *RedisStore) Create(ctx context.Context, r *Record, due time.Time) (bool, error) {
	id := r.Request.CommandID
	saved := r.Version
	r.Version = 1
	b, err := json.Marshal(r)
	if err != nil {
		r.Version = saved
		return false, err
	}
	n, err := createScript.Run(ctx, s.client, []string{s.key(id), s.dueKey()}, b, due.UnixMilli(), id).Int()
	if err != nil || n == 0 {
		r.Version = saved
	}
	if err != nil {
		return false, fmt.Errorf("command-dispatcher: redis: create %s: %w", id, err)
	}
	return n == 1, nil
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, id string) (*Record, error) {
	b, err := s.client.HGet(ctx, s.key(id), "r").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("command-dispatcher: redis: get %s: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("command-dispatcher: redis: command %s undecodable: %w", id, err)
	}
	return &r, nil
}

// Put implements Store.
func (s *RedisStore) Put(ctx context.Context, r *Record, due time.Time, retention time.Duration) error {
	id := r.Request.CommandID
	old := r.Version
	r.Version = old + 1
	b, err := json.Marshal(r)
	if err != nil {
		r.Version = old
		return err
	}
	score := ""
	if !due.IsZero() {
		score = strconv.FormatInt(due.UnixMilli(), 10)
	}
	n, err := putScript.Run(ctx, s.client, []string{s.key(id), s.dueKey()},
		strconv.FormatInt(old, 10), b, score, id, max(retention.Milliseconds(), 1)).Int()
	if err == nil && n != 1 {
		err = ErrConflict
		if n == -1 {
			err = ErrNotFound
		}
	}
	if err != nil {
		r.Version = old
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("command-dispatcher: redis: put %s: %w", id, err)
	}
	return nil
}

// Due implements Store.
func (s *RedisStore) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := s.client.ZRangeByScore(ctx, s.dueKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("command-dispatcher: redis: due: %w", err)
	}
	return ids, nil
}
