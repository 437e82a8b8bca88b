package outage

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/watershed-grid/watershed/rivers/finalstate"
)

// The final checkpoint: the detector's whole state, saved once the service
// stopped cleanly (Service.Stopped) and restored, once, by the next start.
// After a clean stop every record the detector observed is committed and
// none committed is missing from it, so the restored detector concludes
// what an uninterrupted one would have: no warm-up, no outage suspected
// twice. The file is removed when it is restored: after a crash the next
// start begins empty, with the warm-up, as before.

// checkpointFile is the file of the final checkpoint in Config.CheckpointDir.
const checkpointFile = Name + ".final"

type detectorState struct {
	Watermark []byte
	Pending   []pendingState
	Read      bool
	FirstRead int64
	Meters    []meterState
	TXs       []txState
}

type pendingState struct {
	Meter, TX, Feeder string
	Expected          int64
}

type meterState struct {
	ID, TX        string
	Reads, Missed []int64
	Latest        int64
}

type txState struct {
	ID, Feeder        string
	Missed, PowerFail []int64
	RestoredAt        int64
	Due               []int64
	Outage            *outageState
}

type outageState struct {
	ID          string
	FirstSilent int64
	SuspectedAt time.Time
	Affected    []string
}

// MarshalBinary encodes the detector's whole state.
func (d *Detector) MarshalBinary() ([]byte, error) {
	wm, err := d.wm.MarshalBinary()
	if err != nil {
		return nil, err
	}
	st := detectorState{Watermark: wm, Read: d.read, FirstRead: d.firstRead}
	for _, p := range d.pending {
		st.Pending = append(st.Pending, pendingState{p.meter, p.tx, p.feeder, p.expected})
	}
	for _, m := range d.meters {
		st.Meters = append(st.Meters, meterState{ID: m.id, TX: m.tx.id, Reads: m.reads, Missed: m.missed, Latest: m.latest})
	}
	sort.Slice(st.Meters, func(i, j int) bool { return st.Meters[i].ID < st.Meters[j].ID })
	for _, t := range d.txs {
		ts := txState{ID: t.id, Feeder: t.feeder, Missed: t.missed, PowerFail: t.powerFail, RestoredAt: t.restoredAt}
		for at := range t.due {
			ts.Due = append(ts.Due, at)
		}
		slices.Sort(ts.Due)
		if o := t.outage; o != nil {
			ost := &outageState{ID: o.id, FirstSilent: o.firstSilent, SuspectedAt: o.suspectedAt}
			for m := range o.affected {
				ost.Affected = append(ost.Affected, m.id)
			}
			slices.Sort(ost.Affected)
			ts.Outage = ost
		}
		st.TXs = append(st.TXs, ts)
	}
	sort.Slice(st.TXs, func(i, j int) bool { return st.TXs[i].ID < st.TXs[j].ID })
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return nil, fmt.Errorf("outage: encode state: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary replaces the detector's state with one MarshalBinary
// encoded; the configuration stays.
func (d *Detector) UnmarshalBinary(data []byte) error {
	var st detectorState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return fmt.Errorf("outage: decode state: %w", err)
	}
	n := NewDetector(d.cfg)
	if err := n.wm.UnmarshalBinary(st.Watermark); err != nil {
		return fmt.Errorf("outage: decode state: %w", err)
	}
	n.read, n.firstRead = st.Read, st.FirstRead
	for _, p := range st.Pending {
		n.pending = append(n.pending, pendingMissed{meter: p.Meter, tx: p.TX, feeder: p.Feeder, expected: p.Expected})
	}
	for _, ts := range st.TXs {
		t := &transformer{id: ts.ID, feeder: ts.Feeder, meters: make(map[*meter]bool), missed: ts.Missed,
			powerFail: ts.PowerFail, restoredAt: ts.RestoredAt, due: make(map[int64]bool)}
		for _, at := range ts.Due {
			t.due[at] = true
		}
		n.txs[ts.ID] = t
	}
	for _, ms := range st.Meters {
		t := n.txs[ms.TX]
		if t == nil {
			return fmt.Errorf("outage: decode state: meter %s under unknown transformer %s", ms.ID, ms.TX)
		}
		m := &meter{id: ms.ID, tx: t, reads: ms.Reads, missed: ms.Missed, latest: ms.Latest}
		n.meters[ms.ID] = m
		t.meters[m] = true
	}
	for _, ts := range st.TXs {
		if ts.Outage == nil {
			continue
		}
		o := &active{id: ts.Outage.ID, firstSilent: ts.Outage.FirstSilent, suspectedAt: ts.Outage.SuspectedAt, affected: make(map[*meter]bool)}
		for _, id := range ts.Outage.Affected {
			if m := n.meters[id]; m != nil {
				o.affected[m] = true
			}
		}
		n.txs[ts.ID].outage = o
	}
	*d = *n
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
	data, err := s.det.MarshalBinary()
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
	if err := s.det.UnmarshalBinary(data); err != nil {
		// Not a reason to stay down: start empty, with the warm-up.
		s.log.Warn("final checkpoint unreadable, starting empty", "path", path, "err", err)
		return nil
	}
	s.log.Info("final checkpoint restored", "meters", len(s.det.meters), "outages", len(s.det.Active()))
	return nil
}
