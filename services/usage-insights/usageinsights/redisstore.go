package usageinsights

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is the Store in Redis (the hot pond). Per meter one hash,
// <prefix>meter:<id>, holds its place (transformer_id, feeder_id) and one
// field per day ("day:<unix start>", the Day in JSON); per transformer and
// day one hash, <prefix>cohort:<tx>:<unix start>, maps each meter to its
// energy. A meter's dropped days leave their cohorts, so nothing grows
// without bound; a cohort hash is gone when its last meter left.
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore returns the store in c under prefix ("" for "ws:insights:", inside the compose ACL's ws:*).
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	if prefix == "" {
		prefix = "ws:insights:"
	}
	return &RedisStore{c: c, prefix: prefix}
}

func (s *RedisStore) meterKey(id string) string { return s.prefix + "meter:" + id }
func (s *RedisStore) cohortKey(tx string, start time.Time) string {
	return s.prefix + "cohort:" + tx + ":" + strconv.FormatInt(start.Unix(), 10)
}
func dayField(start time.Time) string { return "day:" + strconv.FormatInt(start.Unix(), 10) }

// PutDay writes the day and the meter's cohort entry in one transaction,
// keeping an existing judgement, and trims the meter's oldest days.
func (s *RedisStore) PutDay(ctx context.Context, m Meter, d Day, keep int) ([]Day, error) {
	key := s.meterKey(m.ID)
	if old, err := s.c.HGet(ctx, key, dayField(d.Start)).Result(); err == nil {
		var o Day
		if json.Unmarshal([]byte(old), &o) == nil {
			d.Judged, d.Ratio, d.Unusual = o.Judged, o.Ratio, o.Unusual
		}
	} else if err != redis.Nil {
		return nil, fmt.Errorf("usage-insights: redis: %w", err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var all *redis.MapStringStringCmd
	_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "transformer_id", m.TransformerID, "feeder_id", m.FeederID, dayField(d.Start), b)
		p.HSet(ctx, s.cohortKey(m.TransformerID, d.Start), m.ID, strconv.FormatFloat(d.EnergyKWh, 'f', -1, 64))
		all = p.HGetAll(ctx, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("usage-insights: redis: %w", err)
	}
	_, days, err := decodeMeter(m.ID, all.Val())
	if err != nil {
		return nil, err
	}
	if extra := len(days) - keep; extra > 0 {
		_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, old := range days[:extra] {
				p.HDel(ctx, key, dayField(old.Start))
				p.HDel(ctx, s.cohortKey(m.TransformerID, old.Start), m.ID)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("usage-insights: redis: %w", err)
		}
		days = days[extra:]
	}
	return days, nil
}

// Ping checks Redis answers (the service's readiness check "store").
func (s *RedisStore) Ping(ctx context.Context) error { return s.c.Ping(ctx).Err() }

// SetDay replaces the meter's day (its judgement).
func (s *RedisStore) SetDay(ctx context.Context, id string, d Day) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.c.HSet(ctx, s.meterKey(id), dayField(d.Start), b).Err(); err != nil {
		return fmt.Errorf("usage-insights: redis: %w", err)
	}
	return nil
}

// Meter reads the meter's hash.
func (s *RedisStore) Meter(ctx context.Context, id string) (Meter, []Day, error) {
	all, err := s.c.HGetAll(ctx, s.meterKey(id)).Result()
	if err != nil {
		return Meter{}, nil, fmt.Errorf("usage-insights: redis: %w", err)
	}
	if len(all) == 0 {
		return Meter{}, nil, ErrUnknownMeter
	}
	return decodeMeter(id, all)
}

// Cohorts reads the cohort hashes in one round trip.
func (s *RedisStore) Cohorts(ctx context.Context, tx string, starts []time.Time) ([]map[string]float64, error) {
	cmds := make([]*redis.MapStringStringCmd, len(starts))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, st := range starts {
			cmds[i] = p.HGetAll(ctx, s.cohortKey(tx, st))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("usage-insights: redis: %w", err)
	}
	out := make([]map[string]float64, len(starts))
	for i, c := range cmds {
		out[i] = make(map[string]float64, len(c.Val()))
		for k, v := range c.Val() {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				out[i][k] = f
			}
		}
	}
	return out, nil
}

func decodeMeter(id string, h map[string]string) (Meter, []Day, error) {
	m := Meter{ID: id, TransformerID: h["transformer_id"], FeederID: h["feeder_id"]}
	var days []Day
	for k, v := range h {
		if !strings.HasPrefix(k, "day:") {
			continue
		}
		var d Day
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return m, nil, fmt.Errorf("usage-insights: meter %s, %s: %w", id, k, err)
		}
		days = append(days, d)
	}
	sortDays(days)
	return m, days, nil
}
