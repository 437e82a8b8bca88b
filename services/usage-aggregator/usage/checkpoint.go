package usage

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"sort"
)

// The aggregator's whole state as bytes (MarshalBinary, UnmarshalBinary),
// for tools and tests. The service no longer saves or restores it: state
// is rebuilt per partition from the partition's history (see Stopped).

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

// Stopped is called once the service has stopped (main and `watershed dev`
// call it). It saves nothing any more: every start rebuilds the state of the
// partitions the group assigns from their history (rivers.PartitionState),
// which is exact whether the stop was clean or not, and a final checkpoint
// restored by one of several instances could bring back meters another
// instance owns. MarshalBinary and UnmarshalBinary remain for tools.
func (s *Service) Stopped(context.Context, error) error { return nil }
