package gapdetector

import "hash/maphash"

// internTable maps meter ids to dense indexes 0, 1, 2, ... without a Go
// string per id: the ids' bytes live back to back in one arena, and an
// open-addressing table of uint32 holds index+1 (0 = empty slot). At a
// load factor of at most 3/4 this costs the id's bytes + 4 (offset) + 4 to 8
// (table) bytes per id, against ~70 for a map[string]uint32 with its keys.
type internTable struct {
	seed  maphash.Seed
	arena []byte   // every id's bytes, in index order
	ends  []uint32 // ends[i] is the end of id i in arena
	slots []uint32 // index+1, or 0 when empty; len is a power of two
}

func newInternTable() *internTable {
	return &internTable{seed: maphash.MakeSeed(), slots: make([]uint32, 1024)}
}

// len returns the number of ids interned.
func (t *internTable) len() int { return len(t.ends) }

// id returns the id of index i.
func (t *internTable) id(i uint32) string {
	var start uint32
	if i > 0 {
		start = t.ends[i-1]
	}
	return string(t.arena[start:t.ends[i]])
}

func (t *internTable) bytesOf(i uint32) []byte {
	var start uint32
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.arena[start:t.ends[i]]
}

// lookup returns the index of id and whether it is interned.
func (t *internTable) lookup(id string) (uint32, bool) {
	mask := uint64(len(t.slots) - 1)
	for h := maphash.String(t.seed, id) & mask; ; h = (h + 1) & mask {
		s := t.slots[h]
		if s == 0 {
			return 0, false
		}
		if string(t.bytesOf(s-1)) == id {
			return s - 1, true
		}
	}
}

// intern returns the index of id, adding it when new.
func (t *internTable) intern(id string) (idx uint32, added bool) {
	if i, ok := t.lookup(id); ok {
		return i, false
	}
	if (len(t.ends)+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	idx = uint32(len(t.ends))
	t.arena = append(t.arena, id...)
	t.ends = append(t.ends, uint32(len(t.arena)))
	t.place(idx)
	return idx, true
}

func (t *internTable) place(idx uint32) {
	mask := uint64(len(t.slots) - 1)
	h := maphash.Bytes(t.seed, t.bytesOf(idx)) & mask
	for t.slots[h] != 0 {
		h = (h + 1) & mask
	}
	t.slots[h] = idx + 1
}

func (t *internTable) grow() {
	t.slots = make([]uint32, len(t.slots)*2)
	for i := range uint32(len(t.ends)) {
		t.place(i)
	}
}
