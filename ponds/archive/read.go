package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/ponds/internal/meterreading"
	"gocloud.dev/blob"
)

// Filter selects objects and rows of the pond. The zero Filter selects
// everything.
type Filter struct {
	Topic string // "" for every topic
	Type  string // ce_type; "" for every type
	// From and To bound the event time (ce_time, else the record time):
	// From <= t < To. Zero means unbounded. Objects are selected by their
	// date folder, rows by their time.
	From, To time.Time
}

// prefixes are the key prefixes to list: one type's folders in both
// layouts, a topic's folder, or the whole bucket.
func (f Filter) prefixes() []string {
	switch {
	case f.Topic != "" && f.Type != "":
		return []string{f.Topic + "/" + TypeKey + "=" + f.Type + "/", f.Topic + "/" + LegacyTypeKey + "=" + f.Type + "/"}
	case f.Topic != "":
		return []string{f.Topic + "/"}
	}
	return []string{""}
}

// dateIn reports whether a date folder (YYYY-MM-DD, UTC) can hold times
// in [From, To).
func (f Filter) dateIn(date string) bool {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return false
	}
	if !f.From.IsZero() && !d.Add(24*time.Hour).After(f.From) {
		return false
	}
	if !f.To.IsZero() && !d.Before(f.To) {
		return false
	}
	return true
}

func (f Filter) timeIn(t time.Time) bool {
	if f.From.IsZero() && f.To.IsZero() {
		return true
	}
	if t.IsZero() {
		return false
	}
	return (f.From.IsZero() || !t.Before(f.From)) && (f.To.IsZero() || t.Before(f.To))
}

// List returns the pond's objects that match f, ordered by topic, type,
// date, partition and first offset. Keys that are not pond objects
// (temporary files of an interrupted write, other files) are left out.
func List(ctx context.Context, bucket *blob.Bucket, f Filter) ([]Object, error) {
	var out []Object
	for _, prefix := range f.prefixes() {
		it := bucket.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("archive: list %q: %w", prefix, err)
			}
			o, err := ParseKey(obj.Key)
			if err != nil {
				continue
			}
			if (f.Topic != "" && o.Topic != f.Topic) || (f.Type != "" && o.Type != f.Type) || !f.dateIn(o.Date) {
				continue
			}
			o.Size, o.ModTime = obj.Size, obj.ModTime
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(x, y Object) int {
		return cmp.Or(strings.Compare(x.Topic, y.Topic), strings.Compare(x.Type, y.Type), strings.Compare(x.Date, y.Date),
			cmp.Compare(x.Partition, y.Partition), cmp.Compare(x.FirstOffset, y.FirstOffset))
	})
	return out, nil
}

// Types returns the event types of objs, each once, in order.
func Types(objs []Object) []string {
	var out []string
	for _, o := range objs {
		if !slices.Contains(out, o.Type) {
			out = append(out, o.Type)
		}
	}
	return out
}

// ReadObject reads every row of one object, in offset order.
func ReadObject(ctx context.Context, bucket *blob.Bucket, key string) ([]Row, error) {
	data, err := bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("archive: read %s: %w", key, err)
	}
	return decodeObject(key, data)
}

// decodeObject decodes the Parquet bytes of the object key.
func decodeObject(key string, data []byte) ([]Row, error) {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("archive: %s is not Parquet: %w", key, err)
	}
	schema, _ := f.Lookup(metaSchema)
	if schema == "" {
		if _, ok := f.Schema().Lookup("meter_id"); ok {
			schema = schemaReading
		}
	}
	if schema == schemaReading {
		rows, err := readAll[readingRow](f)
		if err != nil {
			return nil, fmt.Errorf("archive: decode %s: %w", key, err)
		}
		out := make([]Row, len(rows))
		for i := range rows {
			if out[i], err = rows[i].row(); err != nil {
				return nil, fmt.Errorf("archive: decode %s: %w", key, err)
			}
		}
		return out, nil
	}
	if ts := typedSchemaOf(schema); ts != nil {
		out, err := ts.readAll(f)
		if err != nil {
			return nil, fmt.Errorf("archive: decode %s: %w", key, err)
		}
		return out, nil
	}
	rows, err := readAll[eventRow](f)
	if err != nil {
		return nil, fmt.Errorf("archive: decode %s: %w", key, err)
	}
	out := make([]Row, len(rows))
	for i := range rows {
		out[i] = rows[i].row()
	}
	return out, nil
}

func readAll[T any](f *parquet.File) ([]T, error) {
	r := parquet.NewGenericReader[T](f)
	defer r.Close()
	out := make([]T, r.NumRows())
	n, err := r.Read(out)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return out[:n], nil
}

// Rows yields the rows of every object that matches f whose time is in
// [f.From, f.To), object by object in List order. It stops at the first
// error, which it yields.
func Rows(ctx context.Context, bucket *blob.Bucket, f Filter) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		objs, err := List(ctx, bucket, f)
		if err != nil {
			yield(Row{}, err)
			return
		}
		for _, o := range objs {
			rows, err := ReadObject(ctx, bucket, o.Key)
			if err != nil {
				yield(Row{}, err)
				return
			}
			for _, r := range rows {
				t := r.Event.Time
				if t.IsZero() {
					t = r.RecordTime
				}
				if !f.timeIn(t) {
					continue
				}
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

// jsonLine is one line of WriteJSONLines.
type jsonLine struct {
	Topic      string          `json:"topic"`
	Partition  int             `json:"partition"`
	Offset     int64           `json:"offset"`
	RecordTime string          `json:"record_time,omitempty"`
	Event      json.RawMessage `json:"event"`
}

// WriteJSONLines writes one JSON object per row: topic, partition, offset,
// record_time and the event in CloudEvents structured JSON. It returns how
// many rows it wrote.
func WriteJSONLines(w io.Writer, rows iter.Seq2[Row, error]) (int, error) {
	enc := json.NewEncoder(w)
	n := 0
	for r, err := range rows {
		if err != nil {
			return n, err
		}
		ev, err := contracts.MarshalStructured(r.Event)
		if err != nil {
			return n, fmt.Errorf("archive: row %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		if err := enc.Encode(jsonLine{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, RecordTime: formatTime(r.RecordTime), Event: ev}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CSVEnvelope is the start of WriteCSV's header: where the record sat and
// the event's envelope. The payload's columns follow, then data.
var CSVEnvelope = []string{"topic", "partition", "offset", "record_time", "id", "source", "type", "time", "expiry_time",
	"key", "subject", "causation_id", "correlation_id"}

// PayloadColumns returns the columns the payloads of eventTypes expand
// into, named as in the Parquet files: each type's members in schema order,
// a column shared by several types once. Types outside the catalog add
// none (their payload stays in data).
func PayloadColumns(eventTypes []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, typ := range eventTypes {
		for _, c := range payloadColumns(typ) {
			if !seen[c.column] {
				seen[c.column] = true
				out = append(out, c.column)
			}
		}
	}
	return out
}

// memberColumn is where a payload member goes.
type memberColumn struct{ member, column string }

var readingColumns = []memberColumn{{"meter_id", "meter_id"}, {"transformer_id", "transformer_id"},
	{"feeder_id", "feeder_id"}, {"read_at", "read_at"}, {"interval_s", "interval_s"},
	{"energy_kwh_total", "energy_kwh_total"}, {"demand_kw", "demand_kw"}, {"voltage_v", "voltage_v"}, {"flags", "flags"}}

func payloadColumns(eventType string) []memberColumn {
	if eventType == meterreading.Type {
		return readingColumns
	}
	ts := typedSchemaOf(eventType)
	if ts == nil {
		return nil
	}
	out := make([]memberColumn, len(ts.fields))
	for i, f := range ts.fields {
		out[i] = memberColumn{f.member, f.column}
	}
	return out
}

// WriteCSV writes a header and one line per row: CSVEnvelope, then
// PayloadColumns(eventTypes) with each event's payload members (strings as
// they are, numbers and booleans as JSON, lists and objects as JSON text,
// empty when absent), then data: the members no column holds, as a JSON
// object, empty when there are none. Pass the types the rows can have
// (those of List's objects) so the header is known before the first row.
// It returns how many rows it wrote.
func WriteCSV(w io.Writer, eventTypes []string, rows iter.Seq2[Row, error]) (int, error) {
	cw := csv.NewWriter(w)
	n, err := writeTable(cw.Write, eventTypes, rows)
	cw.Flush()
	if err != nil {
		return n, err
	}
	return n, cw.Error()
}

// WriteTable is WriteCSV as text columns aligned for a terminal.
func WriteTable(w io.Writer, eventTypes []string, rows iter.Seq2[Row, error]) (int, error) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	n, err := writeTable(func(cells []string) error {
		for i, c := range cells {
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
		}
		_, err := fmt.Fprintln(tw, strings.Join(cells, "\t"))
		return err
	}, eventTypes, rows)
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

func writeTable(write func([]string) error, eventTypes []string, rows iter.Seq2[Row, error]) (int, error) {
	columns := PayloadColumns(eventTypes)
	index := make(map[string]int, len(columns))
	for i, c := range columns {
		index[c] = len(CSVEnvelope) + i
	}
	if err := write(append(append(slices.Clone(CSVEnvelope), columns...), "data")); err != nil {
		return 0, err
	}
	byType := map[string][]memberColumn{}
	n := 0
	for r, err := range rows {
		if err != nil {
			return n, err
		}
		e := r.Event
		cells := make([]string, len(CSVEnvelope)+len(columns)+1)
		copy(cells, []string{r.Topic, strconv.Itoa(r.Partition), strconv.FormatInt(r.Offset, 10), formatTime(r.RecordTime),
			e.ID, e.Source, e.Type, formatTime(e.Time), formatTime(e.ExpiryTime),
			e.PartitionKey, e.Subject, e.CausationID, e.CorrelationID})
		mcs, ok := byType[e.Type]
		if !ok {
			mcs = payloadColumns(e.Type)
			byType[e.Type] = mcs
		}
		var members map[string]json.RawMessage
		if json.Unmarshal(e.Data, &members) != nil {
			cells[len(cells)-1] = string(e.Data) // not an object: all of it is data
		} else {
			for _, mc := range mcs {
				i, ok := index[mc.column]
				v, present := members[mc.member]
				if !ok || !present {
					continue
				}
				cells[i] = cell(v)
				delete(members, mc.member)
			}
			if len(members) > 0 {
				rest, err := json.Marshal(members)
				if err != nil {
					return n, err
				}
				cells[len(cells)-1] = string(rest)
			}
		}
		if err := write(cells); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// cell renders one JSON member: a string as itself, null as empty,
// anything else as its JSON.
func cell(v json.RawMessage) string {
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s
	}
	if string(v) == "null" {
		return ""
	}
	return string(v)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
