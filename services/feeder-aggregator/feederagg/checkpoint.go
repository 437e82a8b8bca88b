package feederagg

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// An aggregator's state (one rapids partition's) can be saved and restored
// (tools, tests). The service no longer checkpoints: each partition's state
// is rebuilt from its history when the group assigns it
// (rivers.PartitionState), which a checkpoint of several partitions, some
// now another instance's, could not be.

type aggregatorState struct {
	Watermark []byte
	Closed    int64
	Trafos    []trafoState
}

type trafoState struct {
	ID, Feeder string
	Meters     []meterState // in the transformer's order
}

type meterState struct {
	ID                  string
	FirstSeen, LastSeen int64
	T, Wh, IvSecs       []int64
	KW, V               []float64
}

// MarshalBinary encodes the aggregator's whole state.
func (a *Aggregator) MarshalBinary() ([]byte, error) {
	wm, err := a.wm.MarshalBinary()
	if err != nil {
		return nil, err
	}
	st := aggregatorState{Watermark: wm, Closed: a.closed}
	for _, tr := range a.trafos {
		ts := trafoState{ID: tr.id, Feeder: tr.feeder}
		for _, m := range tr.meters {
			ms := meterState{ID: m.id, FirstSeen: m.firstSeen, LastSeen: m.lastSeen}
			for _, r := range m.reads {
				ms.T, ms.Wh, ms.IvSecs = append(ms.T, r.t), append(ms.Wh, r.wh), append(ms.IvSecs, r.ivSecs)
				ms.KW, ms.V = append(ms.KW, r.kw), append(ms.V, r.v)
			}
			ts.Meters = append(ts.Meters, ms)
		}
		st.Trafos = append(st.Trafos, ts)
	}
	sort.Slice(st.Trafos, func(i, j int) bool { return st.Trafos[i].ID < st.Trafos[j].ID })
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return nil, fmt.Errorf("feederagg: encode state: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary replaces the aggregator's state with one MarshalBinary
// encoded; the configuration stays.
func (a *Aggregator) UnmarshalBinary(data []byte) error {
	var st aggregatorState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return fmt.Errorf("feederagg: decode state: %w", err)
	}
	n := NewAggregator(a.cfg)
	if err := n.wm.UnmarshalBinary(st.Watermark); err != nil {
		return fmt.Errorf("feederagg: decode state: %w", err)
	}
	n.closed = st.Closed
	for _, ts := range st.Trafos {
		tr := &trafo{id: ts.ID, feeder: ts.Feeder}
		for _, ms := range ts.Meters {
			k := len(ms.T)
			if len(ms.Wh) != k || len(ms.IvSecs) != k || len(ms.KW) != k || len(ms.V) != k {
				return fmt.Errorf("feederagg: decode state: meter %s: reads of unequal lengths", ms.ID)
			}
			m := &meter{id: ms.ID, trafo: tr, firstSeen: ms.FirstSeen, lastSeen: ms.LastSeen}
			for i, t := range ms.T {
				m.reads = append(m.reads, read{t: t, wh: ms.Wh[i], kw: ms.KW[i], v: ms.V[i], ivSecs: ms.IvSecs[i]})
			}
			tr.meters = append(tr.meters, m)
			n.meters[ms.ID] = m
		}
		// By meter id, as Observe keeps them (older checkpoints kept arrival order).
		slices.SortFunc(tr.meters, func(x, y *meter) int { return strings.Compare(x.id, y.id) })
		n.trafos[ts.ID] = tr
	}
	*a = *n
	return nil
}
