package gapdetector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// CheckpointStore keeps the tracker's state between runs.
//
// Save replaces the checkpoint called name with data; it must be atomic (a
// crash leaves the old or the new checkpoint, never a mix). Load returns the
// latest data saved under name, or ErrNoCheckpoint when there is none. Both
// may be called from different goroutines, never concurrently for one name.
// ponds/hot's Redis store satisfies this interface.
type CheckpointStore interface {
	Save(ctx context.Context, name string, data []byte) error
	Load(ctx context.Context, name string) ([]byte, error)
}

// ErrNoCheckpoint is returned by a CheckpointStore's Load when nothing was
// saved under the name yet.
var ErrNoCheckpoint = errors.New("gapdetector: no checkpoint")

// ErrBadCheckpoint is wrapped when a checkpoint cannot be decoded.
var ErrBadCheckpoint = errors.New("gapdetector: bad checkpoint")

// MemoryCheckpoints is a CheckpointStore in memory: state survives a
// re-registration in one process (watershed dev restarting a service), not
// a process restart. The zero value is ready to use.
type MemoryCheckpoints struct {
	mu   sync.Mutex
	data map[string][]byte
}

// Save implements CheckpointStore.
func (s *MemoryCheckpoints) Save(_ context.Context, name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		s.data = make(map[string][]byte)
	}
	s.data[name] = bytes.Clone(data)
	return nil
}

// Load implements CheckpointStore.
func (s *MemoryCheckpoints) Load(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.data[name]
	if !ok {
		return nil, ErrNoCheckpoint
	}
	return bytes.Clone(d), nil
}

// FileCheckpoints is a CheckpointStore in a directory: one file per name,
// written to a temporary file and renamed into place.
type FileCheckpoints struct {
	Dir string
}

func (s FileCheckpoints) path(name string) string {
	return filepath.Join(s.Dir, filepath.Base(name)+".ckpt")
}

// Save implements CheckpointStore.
func (s FileCheckpoints) Save(_ context.Context, name string, data []byte) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("gapdetector: checkpoint dir: %w", err)
	}
	f, err := os.CreateTemp(s.Dir, filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("gapdetector: checkpoint: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("gapdetector: checkpoint %s: %w", name, err)
	}
	if err := os.Rename(tmp, s.path(name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("gapdetector: checkpoint %s: %w", name, err)
	}
	return nil
}

// Load implements CheckpointStore.
func (s FileCheckpoints) Load(_ context.Context, name string) ([]byte, error) {
	d, err := os.ReadFile(s.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("gapdetector: checkpoint %s: %w", name, err)
	}
	return d, nil
}

// checkpointMagic heads the checkpoints this version writes: the
// watermark's own state (per partition) follows it, and the warm-up ends
// them. checkpointMagicV3 heads those without the warm-up,
// checkpointMagicV2 older ones, which kept the latest read time only.
const (
	checkpointMagic   = "WSGAP4\n"
	checkpointMagicV3 = "WSGAP3\n"
	checkpointMagicV2 = "WSGAP2\n"
)

// MarshalBinary encodes the tracker's state: the watermark (per input
// partition), the transformers and every meter's cadence, recent slots and
// judged slots.
func (t *Tracker) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(checkpointMagic) + 16 + len(t.states)*24 + len(t.meters.arena))
	buf.WriteString(checkpointMagic)
	var tmp [binary.MaxVarintLen64]byte
	uv := func(v uint64) { buf.Write(tmp[:binary.PutUvarint(tmp[:], v)]) }
	str := func(s string) { uv(uint64(len(s))); buf.WriteString(s) }
	wm, err := t.wm.MarshalBinary()
	if err != nil {
		return nil, err
	}
	uv(uint64(len(wm)))
	buf.Write(wm)
	uv(uint64(len(t.intervals)))
	for _, iv := range t.intervals {
		uv(uint64(iv))
	}
	uv(uint64(len(t.trafos)))
	for _, tr := range t.trafos {
		str(tr.id)
		str(tr.feeder)
	}
	uv(uint64(len(t.states) - t.gone))
	for i, m := range t.states {
		if m.ivIx == dropped { // its partition moved away: not kept
			continue
		}
		b := t.meters.bytesOf(uint32(i))
		uv(uint64(len(b)))
		buf.Write(b)
		uv(uint64(m.head))
		uv(m.bits())
		uv(uint64(m.trafo))
		uv(uint64(m.lastWh))
		uv(uint64(m.ivIx))
		buf.Write(tmp[:binary.PutVarint(tmp[:], int64(m.decl))])
	}
	// The warm-up: a tracker restored and not started since keeps the one
	// it was restored with.
	warm, before := t.warm, t.suppressBefore
	if warm == warmArmed {
		warm, before = t.saved.warm, t.saved.suppressBefore
	}
	uv(uint64(warm))
	buf.Write(tmp[:binary.PutVarint(tmp[:], before)])
	return buf.Bytes(), nil
}

// UnmarshalBinary replaces the tracker's state with a checkpoint made by
// MarshalBinary (or by the previous version, which kept no partitions).
// The warm-up restarts: no missed read is emitted for slots expected before
// the first read after the restore plus WarmUp. The partitions of the
// checkpoint hold the watermark at their last read time until they are
// read again (or prove idle), so meters of a partition the restarted
// consumer has not reached yet are not declared missed.
func (t *Tracker) UnmarshalBinary(data []byte) (err error) {
	v2 := bytes.HasPrefix(data, []byte(checkpointMagicV2))
	v3 := bytes.HasPrefix(data, []byte(checkpointMagicV3))
	if !v2 && !v3 && !bytes.HasPrefix(data, []byte(checkpointMagic)) {
		return fmt.Errorf("%w: unknown format", ErrBadCheckpoint)
	}
	r := bufio.NewReader(bytes.NewReader(data[len(checkpointMagic):]))
	fail := func(what string, e error) error {
		if errors.Is(e, io.EOF) {
			e = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: %s: %w", ErrBadCheckpoint, what, e)
	}
	uv := func() uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = binary.ReadUvarint(r)
		return v
	}
	bs := func() []byte {
		n := uv()
		if err != nil {
			return nil
		}
		if n > 1<<16 {
			err = errors.New("string too long")
			return nil
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return b
	}
	n := NewTracker(t.cfg)
	if v2 {
		// The latest read time, of no known partition: the watermark starts
		// again from the reads (the warm-up keeps the rivers quiet).
		uv()
	} else if nb := uv(); err == nil {
		if nb > 1<<20 {
			err = errors.New("watermark too long")
		} else {
			wm := make([]byte, nb)
			if _, err = io.ReadFull(r, wm); err == nil {
				err = n.wm.UnmarshalBinary(wm)
			}
		}
	}
	ni := uv()
	if err == nil && ni > 0xFFFF {
		err = errors.New("too many intervals")
	}
	for i := uint64(0); err == nil && i < ni; i++ {
		iv := int64(uv())
		if err == nil && (iv < 1 || iv > 86400) {
			err = fmt.Errorf("interval %d out of range", iv)
		}
		n.intervalIndex(iv)
	}
	nt := uv()
	for i := uint64(0); err == nil && i < nt; i++ {
		id, feeder := string(bs()), string(bs())
		n.trafoIndex(id, feeder)
	}
	nm := uv()
	if err == nil && nm > 1<<31 {
		err = errors.New("too many meters")
	}
	for i := uint64(0); err == nil && i < nm; i++ {
		id := bs()
		var m meterState
		m.head = uint32(uv())
		m.setBits(uv())
		m.trafo = uint32(uv())
		m.lastWh = uint32(uv())
		m.ivIx = uint16(uv())
		var d int64
		if err == nil {
			d, err = binary.ReadVarint(r)
		}
		if err != nil {
			break
		}
		if int(m.trafo) >= len(n.trafos) || int(m.ivIx) >= len(n.intervals) {
			err = errors.New("meter state out of range")
			break
		}
		m.decl = int16(d)
		if _, added := n.meters.intern(string(id)); !added {
			err = fmt.Errorf("meter %q twice", id)
			break
		}
		n.states = append(n.states, m)
	}
	n.saved.warm = warmActive // older checkpoints: judge every slot on Resume
	if err == nil && !v2 && !v3 {
		n.saved.warm = warmState(uv())
		if err == nil {
			n.saved.suppressBefore, err = binary.ReadVarint(r)
		}
		if err == nil && n.saved.warm != warmArmed && n.saved.warm != warmActive {
			err = fmt.Errorf("warm-up state %d unknown", n.saved.warm)
		}
	}
	if err != nil {
		return fail("decode", err)
	}
	n.part = make([]int32, len(n.states)) // unknown: set again by the next read
	*t = *n
	return nil
}

// StoreWithNotFound adapts a store whose Load reports a missing checkpoint
// with its own sentinel (ponds/hot's ErrNotFound) to this package's
// contract: such errors become ErrNoCheckpoint.
func StoreWithNotFound(s CheckpointStore, notFound error) CheckpointStore {
	return notFoundStore{s, notFound}
}

type notFoundStore struct {
	CheckpointStore
	notFound error
}

func (s notFoundStore) Load(ctx context.Context, name string) ([]byte, error) {
	d, err := s.CheckpointStore.Load(ctx, name)
	if err != nil && errors.Is(err, s.notFound) {
		return nil, fmt.Errorf("%w: %w", ErrNoCheckpoint, err)
	}
	return d, err
}
