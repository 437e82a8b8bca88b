package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"gocloud.dev/blob"
)

// fileIndex is what the archiver knows of the existing files of one
// fileKey: their offset ranges, sorted by first offset. The names give the
// first offsets (one List per key and session); a file's last offset is
// read from its footer only when a record falls at or after its start.
//
// The archiver keeps the ranges of one key disjoint, and every row of the
// key whose offset lies in a file's range is in some file. So a replayed
// record is already archived exactly when the file with the greatest first
// offset at or below it reaches it.
type fileIndex struct {
	files []indexedFile
}

type indexedFile struct {
	key   string
	first int64
	last  int64 // -1 until read from the footer
	told  bool  // the skip of its rows was logged
}

// index returns the index of key, listing the bucket on first use.
func (a *Archiver) index(ctx context.Context, ps *partState, key fileKey) (*fileIndex, error) {
	if ix := ps.indexes[key]; ix != nil {
		return ix, nil
	}
	ix := &fileIndex{}
	// Files of the legacy layout (type=) count too: a replay across the
	// rename must not write their rows again.
	for _, prefix := range []string{key.prefix(), key.prefixWith(LegacyTypeKey)} {
		it := a.bucket.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("archive: list %s: %w", prefix, err)
			}
			o, err := ParseKey(obj.Key)
			if err != nil || o.Partition != key.Partition {
				continue // a temporary file or something else: not a pond object
			}
			ix.files = append(ix.files, indexedFile{key: obj.Key, first: o.FirstOffset, last: -1})
		}
	}
	slices.SortFunc(ix.files, func(x, y indexedFile) int { return compareInt64(x.first, y.first) })
	ps.indexes[key] = ix
	return ix, nil
}

func compareInt64(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// pred returns the position of the file with the greatest first offset at
// or below o, or -1.
func (ix *fileIndex) pred(o int64) int {
	i, found := slices.BinarySearchFunc(ix.files, o, func(f indexedFile, o int64) int { return compareInt64(f.first, o) })
	if found {
		return i
	}
	return i - 1
}

// startsIn reports whether a file starts after first and at or before o.
func (ix *fileIndex) startsIn(first, o int64) bool {
	i := ix.pred(o)
	return i >= 0 && ix.files[i].first > first
}

func (ix *fileIndex) add(f indexedFile) {
	i, _ := slices.BinarySearchFunc(ix.files, f.first, func(x indexedFile, o int64) int { return compareInt64(x.first, o) })
	ix.files = slices.Insert(ix.files, i, f)
}

// covered reports whether offset o is already in a file of ix.
func (a *Archiver) covered(ctx context.Context, ix *fileIndex, o int64) (bool, error) {
	i := ix.pred(o)
	if i < 0 {
		return false, nil
	}
	f := &ix.files[i]
	if f.last < 0 {
		last, err := lastOffset(ctx, a.bucket, f.key)
		if err != nil {
			return false, err
		}
		f.last = last
	}
	if o > f.last {
		return false, nil
	}
	if !f.told {
		f.told = true
		a.opts.Logger.Info("archive: skipping replayed records already in an object", "key", f.key, "first_offset", f.first, "last_offset", f.last)
	}
	return true, nil
}

// lastOffset reads the offset of the last row of an object from its
// footer's metadata: three small range reads.
func lastOffset(ctx context.Context, bucket *blob.Bucket, key string) (int64, error) {
	f, err := openFooter(ctx, bucket, key)
	if err != nil {
		return 0, err
	}
	v, ok := f.Lookup(metaLastOffset)
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("archive: %s has no %s metadata: it was not written by the archiver; move it out of the pond", key, metaLastOffset)
	}
	return n, nil
}

// openFooter opens a Parquet object for its metadata, reading only the
// ranges it needs.
func openFooter(ctx context.Context, bucket *blob.Bucket, key string) (*parquet.File, error) {
	attrs, err := bucket.Attributes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("archive: stat %s: %w", key, err)
	}
	ra := &rangeReader{ctx: ctx, bucket: bucket, key: key}
	f, err := parquet.OpenFile(ra, attrs.Size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("archive: open %s: %w", key, err)
	}
	return f, nil
}

// rangeReader is an io.ReaderAt over one object: one range read per call.
type rangeReader struct {
	ctx    context.Context
	bucket *blob.Bucket
	key    string
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	rd, err := r.bucket.NewRangeReader(r.ctx, r.key, off, int64(len(p)), nil)
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	n, err := io.ReadFull(rd, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
