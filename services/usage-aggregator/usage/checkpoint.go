package usage

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/watershed-grid/watershed/rivers/finalstate"
)

// The final checkpoint: the aggregator's whole state, saved once the
// service stopped cleanly (Service.Stopped) and restored, once, by the next
// start. After a clean stop every read the aggregator observed is committed
// and none committed is missing from it, so the restored aggregator
// publishes what an uninterrupted one would have: no period lost for want
// of a baseline read, none published twice. The file is removed when it
// is restored: after a crash the next start begins empty, as before.

const checkpointFile = Name + ".final"

type aggregatorState struct {
	Watermark []byte
	NextClose int64
	Meters    []meterState
}

type meterState struct {
	ID, Trafo, Feeder     string
	Interval              int64
	T, Wh                 []int64
	KW                    []float64
	HourClosed, DayClosed int64
	Pub                   []pubState
}

type pubState struct {
	Start                  int64
	Day                    bool
	Energy, StartWh, EndWh int64
	Reads, Revision        int
}

// MarshalBinary encodes the aggregator's whole state.
func (a *Aggregator) MarshalBinary() ([]byte, error) {
	wm, err := a.wm.MarshalBinary()
	if err != nil {
		return nil, err
	}
	st := aggregatorState{Watermark: wm, NextClose: a.nextClose}
	for _, m := range a.meters {
		ms := meterState{ID: m.id, Trafo: m.trafo, Feeder: m.feeder, Interval: m.iv, HourClosed: m.hourClosed, DayClosed: m.dayClosed}
		for _, r := range m.reads {
			ms.T, ms.Wh, ms.KW = append(ms.T, r.t), append(ms.Wh, r.wh), append(ms.KW, r.kw)
		}
		for k, p := range m.pub {
			ms.Pub = append(ms.Pub, pubState{Start: k.start, Day: k.day, Energy: p.energy, StartWh: p.startWh, EndWh: p.endWh, Reads: p.reads, Revision: p.revision})
		}
		sort.Slice(ms.Pub, func(i, j int) bool {
			if ms.Pub[i].Start != ms.Pub[j].Start {
				return ms.Pub[i].Start < ms.Pub[j].Start
			}
			return !ms.Pub[i].Day && ms.Pub[j].Day
		})
		st.Meters = append(st.Meters, ms)
	}
	sort.Slice(st.Meters, func(i, j int) bool { return st.Meters[i].ID < st.Meters[j].ID })
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return nil, fmt.Errorf("usage: encode state: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary replaces the aggregator's state with one MarshalBinary
// encoded; the configuration stays.
func (a *Aggregator) UnmarshalBinary(data []byte) error {
	var st aggregatorState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return fmt.Errorf("usage: decode state: %w", err)
	}
	n := NewAggregator(a.cfg)
	if err := n.wm.UnmarshalBinary(st.Watermark); err != nil {
		return fmt.Errorf("usage: decode state: %w", err)
	}
	n.nextClose = st.NextClose
	for _, ms := range st.Meters {
		if len(ms.Wh) != len(ms.T) || len(ms.KW) != len(ms.T) {
			return fmt.Errorf("usage: decode state: meter %s: reads of unequal lengths", ms.ID)
		}
		m := &meter{id: ms.ID, trafo: ms.Trafo, feeder: ms.Feeder, iv: ms.Interval, hourClosed: ms.HourClosed, dayClosed: ms.DayClosed,
			pub: make(map[pubKey]published, len(ms.Pub))}
		for i, t := range ms.T {
			m.reads = append(m.reads, read{t: t, wh: ms.Wh[i], kw: ms.KW[i]})
		}
		for _, p := range ms.Pub {
			m.pub[pubKey{start: p.Start, day: p.Day}] = published{energy: p.Energy, startWh: p.StartWh, endWh: p.EndWh, reads: p.Reads, revision: p.Revision}
		}
		n.meters[ms.ID] = m
	}
	*a = *n
	return nil
}

// Stopped saves the final checkpoint once the service has stopped: call it
// after rivers.Service.Run (or Serve) returned, with its error. Only a
// clean stop (runErr nil) saves one; without Config.CheckpointDir it does
// nothing.
func (s *Service) Stopped(_ context.Context, runErr error) error {
	if s.dir == "" || runErr != nil {
		return nil
	}
	s.mu.Lock()
	data, err := s.agg.MarshalBinary()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return finalstate.Save(s.dir, checkpointFile, data)
}

// restore loads the final checkpoint, if any, and removes it.
func (s *Service) restore() error {
	if s.dir == "" {
		return nil
	}
	data, err := finalstate.Take(s.dir, checkpointFile)
	if err != nil || data == nil {
		return err
	}
	path := filepath.Join(s.dir, checkpointFile)
	if err := s.agg.UnmarshalBinary(data); err != nil {
		s.log.Warn("final checkpoint unreadable, starting empty", "path", path, "err", err)
		return nil
	}
	s.log.Info("final checkpoint restored", "meters", s.agg.Meters(), "watermark", s.agg.Watermark())
	return nil
}
