package usageinsights

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrUnknownMeter is returned for a meter the service has no usage of.
var ErrUnknownMeter = errors.New("usage-insights: unknown meter")

// Store keeps each meter's latest days and, per transformer and day, what
// each of its meters used (the cohort). The memory store is for tests and a
// service without Redis; the Redis store (the hot pond) is what the API
// reads in production, shared by every instance.
//
// A meter's days are written by one handler at a time (usage events are
// keyed by meter_id, so one partition carries them in order).
type Store interface {
	// PutDay keeps d as meter m's day starting at d.Start, replacing the
	// one it has (a correction) but keeping its judgement, records its
	// energy in the transformer's cohort for that day, drops the meter's
	// days beyond the newest keep, and returns the meter's days sorted by
	// start.
	PutDay(ctx context.Context, m Meter, d Day, keep int) ([]Day, error)
	// SetDay replaces meter id's day starting at d.Start (a judgement).
	SetDay(ctx context.Context, id string, d Day) error
	// Meter returns what the store has of meter id: its place and its days
	// sorted by start; ErrUnknownMeter when it has nothing.
	Meter(ctx context.Context, id string) (Meter, []Day, error)
	// Cohorts returns, for each day start, the energy of each meter of
	// transformer tx on that day.
	Cohorts(ctx context.Context, tx string, starts []time.Time) ([]map[string]float64, error)
}

// memoryStore is a Store in memory.
type memoryStore struct {
	mu      sync.Mutex
	meters  map[string]*memMeter
	cohorts map[cohortKey]map[string]float64
}

type memMeter struct {
	m    Meter
	days []Day
}

type cohortKey struct {
	tx    string
	start int64
}

// NewMemoryStore returns a Store that keeps everything in memory.
func NewMemoryStore() Store {
	return &memoryStore{meters: map[string]*memMeter{}, cohorts: map[cohortKey]map[string]float64{}}
}

func (s *memoryStore) PutDay(_ context.Context, m Meter, d Day, keep int) ([]Day, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := s.meters[m.ID]
	if mm == nil {
		mm = &memMeter{}
		s.meters[m.ID] = mm
	}
	mm.m = m
	replaced := false
	for i := range mm.days {
		if mm.days[i].Start.Equal(d.Start) {
			d.Judged, d.Ratio, d.Unusual = mm.days[i].Judged, mm.days[i].Ratio, mm.days[i].Unusual
			mm.days[i] = d
			replaced = true
		}
	}
	if !replaced {
		mm.days = append(mm.days, d)
		sortDays(mm.days)
	}
	ck := cohortKey{m.TransformerID, d.Start.Unix()}
	if s.cohorts[ck] == nil {
		s.cohorts[ck] = map[string]float64{}
	}
	s.cohorts[ck][m.ID] = d.EnergyKWh
	for len(mm.days) > keep {
		old := mm.days[0]
		mm.days = mm.days[1:]
		ok := cohortKey{m.TransformerID, old.Start.Unix()}
		delete(s.cohorts[ok], m.ID)
		if len(s.cohorts[ok]) == 0 {
			delete(s.cohorts, ok)
		}
	}
	return append([]Day(nil), mm.days...), nil
}

func (s *memoryStore) SetDay(_ context.Context, id string, d Day) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mm := s.meters[id]; mm != nil {
		for i := range mm.days {
			if mm.days[i].Start.Equal(d.Start) {
				mm.days[i] = d
			}
		}
	}
	return nil
}

func (s *memoryStore) Meter(_ context.Context, id string) (Meter, []Day, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := s.meters[id]
	if mm == nil {
		return Meter{}, nil, ErrUnknownMeter
	}
	return mm.m, append([]Day(nil), mm.days...), nil
}

func (s *memoryStore) Cohorts(_ context.Context, tx string, starts []time.Time) ([]map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]float64, len(starts))
	for i, st := range starts {
		out[i] = map[string]float64{}
		for k, v := range s.cohorts[cohortKey{tx, st.Unix()}] {
			out[i][k] = v
		}
	}
	return out, nil
}
