package eventtime

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadState is wrapped by UnmarshalBinary's errors.
var ErrBadState = errors.New("eventtime: bad watermark state")

const stateVersion = 1

// MarshalBinary encodes what a restart needs: the latest plausible event
// time, the watermark's value and each partition's latest event time.
// Read progress (Behind, record times) is not kept: it describes a reader
// that is gone.
func (w *Watermark) MarshalBinary() ([]byte, error) { return w.AppendBinary(nil) }

// AppendBinary appends MarshalBinary's encoding to b.
func (w *Watermark) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, stateVersion)
	b = binary.AppendVarint(b, w.max)
	b = binary.AppendVarint(b, w.value)
	n := 0
	for i := range w.parts {
		if w.seen[i] {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for i := range w.parts {
		if w.seen[i] {
			b = binary.AppendUvarint(b, uint64(i))
			b = binary.AppendVarint(b, w.parts[i].last)
		}
	}
	return b, nil
}

// UnmarshalBinary replaces the watermark's state with an encoding made by
// MarshalBinary; the configuration stays. The partitions it names hold the
// watermark back at their latest event time until they are read again: a
// restored partition becomes idle only once the service has read
// Config.IdleAfter of record time, after the restart, without a record from
// it. It is not caught up ([Watermark.CaughtUp]) until it is read again.
func (w *Watermark) UnmarshalBinary(data []byte) error {
	_, err := w.decode(data)
	return err
}

// DecodeFrom is UnmarshalBinary for an encoding at the start of data
// (embedded in a larger checkpoint); it returns the bytes after it.
func (w *Watermark) DecodeFrom(data []byte) ([]byte, error) { return w.decode(data) }

func (w *Watermark) decode(data []byte) ([]byte, error) {
	fail := func(what string) ([]byte, error) { return nil, fmt.Errorf("%w: %s", ErrBadState, what) }
	if len(data) == 0 || data[0] != stateVersion {
		return fail("unknown version")
	}
	data = data[1:]
	varint := func() (int64, bool) {
		v, n := binary.Varint(data)
		if n <= 0 {
			return 0, false
		}
		data = data[n:]
		return v, true
	}
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(data)
		if n <= 0 {
			return 0, false
		}
		data = data[n:]
		return v, true
	}
	mx, ok1 := varint()
	val, ok2 := varint()
	n, ok3 := uvarint()
	if !ok1 || !ok2 || !ok3 || mx < 0 || val < 0 || n > 1<<16 {
		return fail("header")
	}
	// The configuration stays: all of it (AtEnd and Assigned were lost
	// here, so a restored watermark moved on partitions not read yet).
	nw := &Watermark{skew: w.skew, confirm: w.confirm, idleAfter: w.idleAfter, atEnd: w.atEnd, assigned: w.assigned,
		max: mx, value: val}
	for range n {
		p, ok1 := uvarint()
		last, ok2 := varint()
		if !ok1 || !ok2 || p >= 1<<16 || last < 0 {
			return fail("partition")
		}
		pt := nw.part(int(p))
		pt.last, pt.restored = last, true
		nw.restoring++
	}
	*w = *nw
	return data, nil
}
