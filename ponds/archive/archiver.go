package archive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/ponds/internal/meterreading"
	"gocloud.dev/blob"
)

// Defaults of [Options].
const (
	DefaultMaxRows          = 100_000
	DefaultMaxBytes         = 32 << 20
	DefaultMaxAge           = time.Minute
	DefaultMaxBufferedBytes = 256 << 20
	DefaultCompression      = "zstd"
)

var (
	// ErrInvalidEvent is wrapped by the *InvalidEventError of an event the
	// archiver refuses. Permanent: dead-letter the record and go on.
	ErrInvalidEvent = errors.New("archive: invalid event")
	// ErrOutOfOrder: Add was given an offset at or below one it already
	// had for that partition. Call Forget first to rewind.
	ErrOutOfOrder = errors.New("archive: offset out of order")
	// ErrClosed: the Archiver was closed.
	ErrClosed = errors.New("archive: archiver closed")
	// ErrConfig: invalid Options.
	ErrConfig = errors.New("archive: invalid options")
)

// InvalidEventError says which record the archiver refused and why.
type InvalidEventError struct {
	Position Position
	EventID  string
	Reason   error
}

func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("archive: invalid event %q at %s/%d@%d: %v", e.EventID, e.Position.Topic, e.Position.Partition, e.Position.Offset, e.Reason)
}

// Unwrap returns ErrInvalidEvent and the reason.
func (e *InvalidEventError) Unwrap() []error { return []error{ErrInvalidEvent, e.Reason} }

// Validator checks an event's payload against its type's schema; it has
// the method set of rivers.Validator and *catalog.Catalog. It returns nil,
// an error wrapping catalog.ErrUnknownType for a type it has no schema for,
// or another error when data breaks the schema.
type Validator interface {
	Validate(eventType string, data []byte) error
}

// ValidatorFunc adapts a function to a Validator.
type ValidatorFunc func(eventType string, data []byte) error

// Validate calls f.
func (f ValidatorFunc) Validate(eventType string, data []byte) error { return f(eventType, data) }

// Position is where a record sits in Kafka.
type Position struct {
	Topic     string
	Partition int
	Offset    int64
	// Time is the record's timestamp. It dates an event that has no
	// ce_time, and fills the record_time column.
	Time time.Time
}

// Watermark says which offsets of a partition are durable: every record
// below Next is in a written object, was already archived before (a replay),
// or was refused as invalid. Commit Next to Kafka (that is, mark the record
// at Next-1 as processed).
type Watermark struct {
	Topic     string
	Partition int
	Next      int64
}

// Options tune an [Archiver]. A nil *Options means all defaults.
type Options struct {
	// MaxRows flushes a file when it holds this many rows. Default 100,000.
	MaxRows int
	// MaxBytes flushes a file when its buffered rows reach about this many
	// bytes (in memory, before encoding). Default 32 MiB.
	MaxBytes int
	// MaxAge flushes a file this long after its first row was added, by
	// FlushDue. Default 1 minute.
	MaxAge time.Duration
	// MaxBufferedBytes bounds the bytes buffered across all files; past it
	// FlushDue flushes everything. Default 256 MiB.
	MaxBufferedBytes int
	// Compression is the Parquet codec: "zstd" (default), "snappy",
	// "gzip" or "none".
	Compression string
	// Validator checks payloads before they are archived. Default: the
	// contracts catalog (catalog.Default()), except for meter.reading.v1,
	// whose typed decoder applies the same schema rules several times
	// faster. As a tolerant reader the archiver accepts types the validator
	// does not know (archived with their raw JSON) and members a schema does
	// not declare (kept in the data column); anything else it refuses with
	// an *InvalidEventError. A Validator set here checks every type.
	Validator Validator
	// Now is the clock of MaxAge. Default time.Now.
	Now func() time.Time
	// Logger receives one line per written object at debug level and
	// per replayed (skipped) run at info level. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) fill() error {
	if o.MaxRows == 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxBufferedBytes == 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if o.Compression == "" {
		o.Compression = DefaultCompression
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.MaxRows < 0:
		return fmt.Errorf("%w: MaxRows %d is negative", ErrConfig, o.MaxRows)
	case o.MaxBytes < 0:
		return fmt.Errorf("%w: MaxBytes %d is negative", ErrConfig, o.MaxBytes)
	case o.MaxAge < 0:
		return fmt.Errorf("%w: MaxAge %v is negative", ErrConfig, o.MaxAge)
	case o.MaxBufferedBytes < 0:
		return fmt.Errorf("%w: MaxBufferedBytes %d is negative", ErrConfig, o.MaxBufferedBytes)
	}
	if _, err := codec(o.Compression); err != nil {
		return err
	}
	return nil
}

func codec(name string) (compress.Codec, error) {
	switch strings.ToLower(name) {
	case "zstd":
		return &zstd.Codec{Level: zstd.SpeedDefault}, nil
	case "snappy":
		return &snappy.Codec{}, nil
	case "gzip":
		return &gzip.Codec{Level: gzip.DefaultCompression}, nil
	case "none", "uncompressed":
		return &uncompressed.Codec{}, nil
	}
	return nil, fmt.Errorf("%w: compression %q: use zstd, snappy, gzip or none", ErrConfig, name)
}

// Archiver writes events into the pond as Parquet files, one file per run
// of rows of one topic, event type, UTC date and partition, named by the
// offset of its first row (see the package documentation for the layout and
// why a crash, restart or replay never duplicates a row).
//
// The caller feeds it records in offset order per partition with Add,
// calls FlushDue regularly (every second, say) and commits the Watermarks
// to Kafka. A partition's commit waits for its oldest open file, so MaxAge
// also bounds how far commits lag behind a rare event type. An Archiver is
// safe for concurrent use (calls are serialized, I/O included), but one
// partition must be fed by one goroutine, in order.
type Archiver struct {
	bucket *blob.Bucket
	opts   Options
	codec  compress.Codec
	// typedChecks: readings are checked by their decoder, not the
	// Validator (the default Validator was asked for).
	typedChecks bool

	mu       sync.Mutex
	parts    map[partKey]*partState
	buffered int // bytes across all buffers
	closed   bool
}

type partKey struct {
	topic     string
	partition int
}

// partState is what the archiver knows about one partition in this session.
type partState struct {
	last    int64 // last offset added, -1 before the first
	buffers map[fileKey]*buffer
	indexes map[fileKey]*fileIndex
}

// buffer holds the rows of the next file of one fileKey.
type buffer struct {
	key         fileKey
	first, last int64
	bytes       int
	opened      time.Time
	readings    []readingRow
	events      []eventRow
	typed       []any // rows of typedSchemaOf(key.Type)
}

func (b *buffer) rows() int { return len(b.readings) + len(b.events) + len(b.typed) }

// NewArchiver returns an Archiver writing to bucket. It does not close
// bucket.
func NewArchiver(bucket *blob.Bucket, opts *Options) (*Archiver, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if err := o.fill(); err != nil {
		return nil, err
	}
	c, _ := codec(o.Compression)
	a := &Archiver{bucket: bucket, opts: o, codec: c, parts: map[partKey]*partState{}}
	if a.opts.Validator == nil {
		a.opts.Validator, a.typedChecks = catalog.Default(), true
	}
	return a, nil
}

// AddMessage decodes a Kafka binary-mode message and adds it like Add. A
// message that does not decode is refused with an *InvalidEventError.
func (a *Archiver) AddMessage(ctx context.Context, pos Position, m contracts.Message) error {
	e, err := contracts.DecodeBinary(m)
	if err != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		if err := a.admit(pos); err != nil {
			return err
		}
		a.part(pos).last = pos.Offset
		return &InvalidEventError{Position: pos, Reason: err}
	}
	return a.Add(ctx, pos, e)
}

// Add buffers the event e read at pos. Records of one partition must come
// in increasing offset order (gaps are fine: compaction, transactions).
//
// An *InvalidEventError (errors.Is ErrInvalidEvent) means the event is
// refused and will never be written: dead-letter the record before
// committing past it. Any other error (writing or listing the bucket) means
// the record was NOT added: retry the same Add. Add writes to the bucket
// only to start a new file where the current one must end (it is full, or,
// after a restart, an existing file begins) and, once per file key and
// session, lists the existing files.
func (a *Archiver) Add(ctx context.Context, pos Position, e contracts.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.admit(pos); err != nil {
		return err
	}
	ps := a.part(pos)
	key, row, err := a.prepare(pos, e)
	if err != nil {
		ps.last = pos.Offset
		return &InvalidEventError{Position: pos, EventID: e.ID, Reason: err}
	}
	idx, err := a.index(ctx, ps, key)
	if err != nil {
		return err
	}
	b := ps.buffers[key]
	// End the current file first when it is full, or when an existing file
	// starts between its first row and this one: files never overlap.
	if b != nil && (b.rows() >= a.opts.MaxRows || b.bytes >= a.opts.MaxBytes || idx.startsIn(b.first, pos.Offset)) {
		if err := a.flush(ctx, ps, b); err != nil {
			return err
		}
		b = nil
	}
	covered, err := a.covered(ctx, idx, pos.Offset)
	if err != nil {
		return err
	}
	if covered { // a replay: this row is already in a file
		ps.last = pos.Offset
		return nil
	}
	if b == nil {
		b = &buffer{key: key, first: pos.Offset, opened: a.opts.Now()}
		ps.buffers[key] = b
	}
	switch r := row.(type) {
	case readingRow:
		b.readings = append(b.readings, r)
		b.bytes += r.size()
		a.buffered += r.size()
	case eventRow:
		b.events = append(b.events, r)
		b.bytes += r.size()
		a.buffered += r.size()
	case typedRow:
		b.typed = append(b.typed, r.row)
		n := r.ts.size(r.row)
		b.bytes += n
		a.buffered += n
	}
	b.last = pos.Offset
	ps.last = pos.Offset
	return nil
}

func (a *Archiver) admit(pos Position) error {
	if a.closed {
		return ErrClosed
	}
	if !validName(pos.Topic) || pos.Partition < 0 || pos.Offset < 0 {
		return fmt.Errorf("%w: position %s/%d@%d is not a Kafka topic, partition and offset", ErrConfig, pos.Topic, pos.Partition, pos.Offset)
	}
	if ps := a.parts[partKey{pos.Topic, pos.Partition}]; ps != nil && pos.Offset <= ps.last {
		return fmt.Errorf("%w: %s/%d@%d after @%d: call Forget to rewind", ErrOutOfOrder, pos.Topic, pos.Partition, pos.Offset, ps.last)
	}
	return nil
}

func (a *Archiver) part(pos Position) *partState {
	k := partKey{pos.Topic, pos.Partition}
	ps := a.parts[k]
	if ps == nil {
		ps = &partState{last: -1, buffers: map[fileKey]*buffer{}, indexes: map[fileKey]*fileIndex{}}
		a.parts[k] = ps
	}
	return ps
}

// prepare validates e and turns it into a row and the key of its file.
func (a *Archiver) prepare(pos Position, e contracts.Event) (fileKey, any, error) {
	if !validName(e.Type) {
		return fileKey{}, nil, fmt.Errorf("type %q cannot name a folder: want [A-Za-z0-9._-]", e.Type)
	}
	if e.ID == "" || e.Source == "" {
		return fileKey{}, nil, errors.New("missing id or source")
	}
	if !(a.typedChecks && e.Type == meterreading.Type) {
		if err := a.opts.Validator.Validate(e.Type, e.Data); err != nil && !tolerable(err) {
			return fileKey{}, nil, err
		}
	}
	when := e.Time
	if when.IsZero() {
		when = pos.Time
	}
	if when.IsZero() {
		return fileKey{}, nil, errors.New("no ce_time and no record time to date it by")
	}
	if y := when.UTC().Year(); y < 1 || y > 9999 {
		return fileKey{}, nil, fmt.Errorf("time %v is outside years 1-9999", when)
	}
	key := fileKey{Topic: pos.Topic, Type: e.Type, Date: when.UTC().Format(time.DateOnly), Partition: pos.Partition}
	if e.Type == meterreading.Type {
		r, extra, err := meterreading.Decode(e.Data)
		if err != nil {
			return fileKey{}, nil, err
		}
		return key, newReadingRow(pos, e, r, extra), nil
	}
	if ts := typedSchemaOf(e.Type); ts != nil {
		row, err := ts.newRow(newEnvelope(pos, e), e.Data)
		if err != nil {
			return fileKey{}, nil, err
		}
		return key, typedRow{ts: ts, row: row}, nil
	}
	return key, eventRow{envelope: newEnvelope(pos, e), Data: string(e.Data)}, nil
}

// tolerable reports whether a validation error is one a tolerant reader
// accepts: an unknown type, or only members the schema does not declare.
func tolerable(err error) bool {
	if errors.Is(err, catalog.ErrUnknownType) {
		return true
	}
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) == 0 {
		return false
	}
	for _, v := range ve.Violations {
		if !strings.HasPrefix(v.Message, "additional properties ") {
			return false
		}
	}
	return true
}

// FlushDue writes the files that are full or older than MaxAge, or every
// file when more than MaxBufferedBytes are buffered. Call it regularly;
// then commit the Watermarks. On error the failed file stays buffered and
// the next call tries again.
func (a *Archiver) FlushDue(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	all := a.buffered > a.opts.MaxBufferedBytes
	now := a.opts.Now()
	return a.flushWhere(ctx, func(b *buffer) bool {
		return all || b.rows() >= a.opts.MaxRows || b.bytes >= a.opts.MaxBytes || now.Sub(b.opened) >= a.opts.MaxAge
	})
}

// Flush writes every buffered file.
func (a *Archiver) Flush(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flushWhere(ctx, func(*buffer) bool { return true })
}

func (a *Archiver) flushWhere(ctx context.Context, due func(*buffer) bool) error {
	type job struct {
		ps *partState
		b  *buffer
	}
	var jobs []job
	for _, ps := range a.parts {
		for _, b := range ps.buffers {
			if due(b) {
				jobs = append(jobs, job{ps, b})
			}
		}
	}
	slices.SortFunc(jobs, func(x, y job) int { return compareKeys(x.b.key, y.b.key) })
	var errs []error
	for _, j := range jobs {
		if err := a.flush(ctx, j.ps, j.b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func compareKeys(x, y fileKey) int {
	return cmp.Or(strings.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition),
		strings.Compare(x.Type, y.Type), strings.Compare(x.Date, y.Date))
}

// flush writes b and, once the object is durable, drops it and records the
// new file in its index.
func (a *Archiver) flush(ctx context.Context, ps *partState, b *buffer) error {
	key := b.key.object(b.first)
	if err := a.write(ctx, key, b); err != nil {
		return err
	}
	a.opts.Logger.Debug("archive: wrote object", "key", key, "rows", b.rows(), "first_offset", b.first, "last_offset", b.last)
	delete(ps.buffers, b.key)
	a.buffered -= b.bytes
	ps.indexes[b.key].add(indexedFile{key: key, first: b.first, last: b.last})
	return nil
}

// Metadata keys every object carries in its Parquet footer.
const (
	metaFirstOffset = "watershed.first_offset"
	metaLastOffset  = "watershed.last_offset"
	metaSchema      = "watershed.schema"
)

// write encodes b as Parquet into a new object. The object appears
// whole when the blob writer's Close succeeds, and not at all otherwise.
func (a *Archiver) write(ctx context.Context, key string, b *buffer) (err error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := a.bucket.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType:                 "application/vnd.apache.parquet",
		DisableContentTypeDetection: true,
	})
	if err != nil {
		return fmt.Errorf("archive: write %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			cancel() // abandon the upload: nothing appears under key
			_ = w.Close()
		}
	}()
	opts := []parquet.WriterOption{
		parquet.Compression(a.codec),
		parquet.CreatedBy("watershed ponds", "", ""),
		parquet.KeyValueMetadata(metaFirstOffset, fmt.Sprint(b.first)),
		parquet.KeyValueMetadata(metaLastOffset, fmt.Sprint(b.last)),
	}
	switch ts := typedSchemaOf(b.key.Type); {
	case b.key.Type == meterreading.Type:
		err = writeRows(w, b.readings, append(opts, parquet.KeyValueMetadata(metaSchema, schemaReading)))
	case ts != nil:
		err = writeTyped(w, ts, b.typed, append(opts, parquet.KeyValueMetadata(metaSchema, ts.eventType)))
	default:
		err = writeRows(w, b.events, append(opts, parquet.KeyValueMetadata(metaSchema, schemaEvent)))
	}
	if err != nil {
		return fmt.Errorf("archive: encode %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("archive: write %s: %w", key, err)
	}
	return nil
}

func writeTyped(w *blob.Writer, ts *typedSchema, rows []any, opts []parquet.WriterOption) error {
	pw := parquet.NewWriter(w, append(opts, ts.schema)...)
	for _, r := range rows {
		if err := pw.Write(r); err != nil {
			return err
		}
	}
	return pw.Close()
}

func writeRows[T any](w *blob.Writer, rows []T, opts []parquet.WriterOption) error {
	pw := parquet.NewGenericWriter[T](w, opts...)
	if _, err := pw.Write(rows); err != nil {
		return err
	}
	return pw.Close()
}

// Watermarks returns, per partition added since the last Forget, the offset
// below which every record is durable. Commit these after FlushDue, Flush
// or Add.
func (a *Archiver) Watermarks() []Watermark {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Watermark, 0, len(a.parts))
	for k, ps := range a.parts {
		if ps.last < 0 {
			continue
		}
		next := ps.last + 1
		for _, b := range ps.buffers {
			next = min(next, b.first)
		}
		out = append(out, Watermark{Topic: k.topic, Partition: k.partition, Next: next})
	}
	slices.SortFunc(out, func(x, y Watermark) int {
		return cmp.Or(strings.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
	})
	return out
}

// Forget drops what the archiver holds for a partition: its unwritten
// rows and what it knows of the partition's files. Call it when the
// partition is revoked (a consumer-group rebalance) or to rewind; then read
// again from the committed offset, which is at or below every dropped row.
func (a *Archiver) Forget(topic string, partition int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ps := a.parts[partKey{topic, partition}]; ps != nil {
		for _, b := range ps.buffers {
			a.buffered -= b.bytes
		}
		delete(a.parts, partKey{topic, partition})
	}
}

// Close flushes every buffered file and refuses further Adds. It does not
// close the bucket. After an error, Close may be called again to retry.
func (a *Archiver) Close(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.flushWhere(ctx, func(*buffer) bool { return true }); err != nil {
		return err
	}
	a.closed = true
	return nil
}
