package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/watershed-grid/watershed/contracts/events"
)

// A typed file holds a catalog type other than meter.reading.v1 with one
// column per payload member, so analysts query fields, not JSON text. Its
// rows are structs made at run time from the type's Go payload
// (contracts/events): the envelope's columns, then the payload's, then data.
//
// Column types follow the Go fields: string → STRING, time.Time →
// TIMESTAMP(MICROS, UTC), integers → INT64, float64 → DOUBLE, bool →
// BOOLEAN, []string → LIST<STRING>, pointers → the same, nullable; anything
// else (objects, lists of objects, raw JSON) → its JSON text. Members the
// schema marks optional (omitempty, omitzero) are nullable. A member named
// like an envelope column (id, source, topic) or a partition key is the
// column data_<name>, and a member whose type differs from another type's
// member of that name gets a column of its own (renamedColumns), so a column
// name means one thing across the pond. data is NULL unless the payload had members the
// columns do not hold; then it is the payload as received.

// renamedColumns gives the column of members whose name another type uses
// with another type (TestColumnTypesAgree finds them).
var renamedColumns = map[string]map[string]string{
	// a heartbeat's interval is fractional seconds; a reading's is integral
	events.TypeHeartbeat:   {"interval_s": "heartbeat_interval_s"},
	events.TypeServiceDown: {"interval_s": "heartbeat_interval_s"},
}

// typedSchema is the row layout of one typed event type.
type typedSchema struct {
	eventType string
	payload   reflect.Type // the events struct
	row       reflect.Type // envelope columns, payload columns, Data
	schema    *parquet.Schema
	fields    []typedField
	members   map[string]bool // JSON names of the payload
	envFields int             // the row's first envFields fields are the envelope's
}

// typedField maps one payload member to one row column.
type typedField struct {
	member string // JSON name
	column string // Parquet column
	src    int    // field of the payload struct
	dst    int    // field of the row struct
	asJSON bool   // the column holds the member's JSON text
}

var (
	envelopeType = reflect.TypeFor[envelope]()
	timeType     = reflect.TypeFor[time.Time]()
	rawJSONType  = reflect.TypeFor[json.RawMessage]()

	typedMu      sync.Mutex
	typedSchemas = map[string]*typedSchema{}
)

// reservedColumns are the column names a payload member cannot take.
func reservedColumns() map[string]bool {
	out := map[string]bool{"data": true, TypeKey: true, LegacyTypeKey: true, DateKey: true}
	for i := range envelopeType.NumField() {
		out[columnName(envelopeType.Field(i))] = true
	}
	return out
}

func columnName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
	return name
}

// typedSchemaOf returns the layout of eventType, or nil when the type is
// meter.reading.v1 (readingRow) or outside the catalog (eventRow).
func typedSchemaOf(eventType string) *typedSchema {
	if eventType == events.TypeMeterReading {
		return nil
	}
	typedMu.Lock()
	defer typedMu.Unlock()
	if ts, ok := typedSchemas[eventType]; ok {
		return ts
	}
	p, ok := events.NewPayload(eventType)
	var ts *typedSchema
	if ok {
		ts = newTypedSchema(eventType, reflect.TypeOf(p).Elem())
	}
	typedSchemas[eventType] = ts
	return ts
}

func newTypedSchema(eventType string, payload reflect.Type) *typedSchema {
	ts := &typedSchema{eventType: eventType, payload: payload, members: map[string]bool{}}
	reserved := reservedColumns()
	var cols []reflect.StructField
	for i := range envelopeType.NumField() {
		f := envelopeType.Field(i)
		cols = append(cols, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
	}
	ts.envFields = len(cols)
	for i := range payload.NumField() {
		f := payload.Field(i)
		member, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || member == "-" || member == "" {
			continue
		}
		ts.members[member] = true
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		column := member
		if c, ok := renamedColumns[eventType][member]; ok {
			column = c
		}
		if reserved[column] {
			column = "data_" + member
		}
		typ, tag, asJSON := columnType(f.Type)
		if optional && f.Type.Kind() != reflect.Pointer && f.Type.Kind() != reflect.Slice {
			tag += ",optional"
		}
		ts.fields = append(ts.fields, typedField{member: member, column: column, src: i, dst: len(cols), asJSON: asJSON})
		cols = append(cols, reflect.StructField{
			Name: fmt.Sprintf("F%d", len(cols)), Type: typ,
			Tag: reflect.StructTag(fmt.Sprintf(`parquet:"%s%s"`, column, tag)),
		})
	}
	cols = append(cols, reflect.StructField{Name: "Data", Type: reflect.TypeFor[string](), Tag: `parquet:"data,optional"`})
	ts.row = reflect.StructOf(cols)
	ts.schema = parquet.SchemaOf(reflect.New(ts.row).Interface())
	return ts
}

// columnType returns the Go type and parquet tag options of the column of
// a payload field of type t, and whether it holds JSON text.
func columnType(t reflect.Type) (reflect.Type, string, bool) {
	switch {
	case t == timeType:
		return t, ",timestamp(microsecond:utc)", false
	case t == rawJSONType:
		return reflect.TypeFor[string](), "", true
	case t.Kind() == reflect.Pointer:
		if et, tag, asJSON := columnType(t.Elem()); !asJSON {
			return reflect.PointerTo(et), tag + ",optional", false
		}
		return reflect.TypeFor[string](), ",optional", true
	}
	switch t.Kind() {
	case reflect.String:
		return reflect.TypeFor[string](), "", false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return reflect.TypeFor[int64](), "", false
	case reflect.Float32, reflect.Float64:
		return reflect.TypeFor[float64](), "", false
	case reflect.Bool:
		return reflect.TypeFor[bool](), "", false
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return reflect.TypeFor[[]string](), ",list", false
		}
	}
	return reflect.TypeFor[string](), "", true
}

// newRow decodes data into a row of ts. extra reports members the payload
// type does not declare: then data is kept whole in the data column.
func (ts *typedSchema) newRow(en envelope, data []byte) (any, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	extra := false
	for m := range members {
		if !ts.members[m] {
			extra = true
			break
		}
	}
	p := reflect.New(ts.payload)
	if err := json.Unmarshal(data, p.Interface()); err != nil {
		return nil, fmt.Errorf("payload does not decode as %s: %w", ts.eventType, err)
	}
	row := reflect.New(ts.row).Elem()
	env := reflect.ValueOf(en)
	for i := range ts.envFields {
		row.Field(i).Set(env.Field(i))
	}
	for _, f := range ts.fields {
		v, dst := p.Elem().Field(f.src), row.Field(f.dst)
		if !f.asJSON {
			setColumn(dst, v)
			continue
		}
		if _, present := members[f.member]; present && !(v.Kind() == reflect.Pointer && v.IsNil()) {
			b, err := json.Marshal(v.Interface())
			if err != nil {
				return nil, err
			}
			dst.SetString(string(b))
		}
	}
	if extra {
		row.Field(row.NumField() - 1).SetString(string(data))
	}
	return row.Interface(), nil
}

// setColumn stores payload value v in column dst (same kind, maybe wider).
func setColumn(dst, v reflect.Value) {
	switch {
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return
		}
		p := reflect.New(dst.Type().Elem())
		setColumn(p.Elem(), v.Elem())
		dst.Set(p)
	case v.Type() == timeType:
		dst.Set(reflect.ValueOf(utc(v.Interface().(time.Time))))
	case v.Kind() == reflect.Slice:
		if v.IsNil() { // a required list reads back as [], not null
			v = reflect.MakeSlice(v.Type(), 0, 0)
		}
		dst.Set(v.Convert(dst.Type()))
	default:
		dst.Set(v.Convert(dst.Type()))
	}
}

// decodeRow turns a row of ts back into a Row: the payload is re-encoded
// from the columns (same members and values, times at microsecond
// precision), or is the data column when the payload had other members.
func (ts *typedSchema) decodeRow(row reflect.Value) (Row, error) {
	var en envelope
	env := reflect.ValueOf(&en).Elem()
	for i := range ts.envFields {
		env.Field(i).Set(row.Field(i))
	}
	if data := row.Field(row.NumField() - 1).String(); data != "" {
		return en.row(json.RawMessage(data)), nil
	}
	p := reflect.New(ts.payload).Elem()
	for _, f := range ts.fields {
		col, dst := row.Field(f.dst), p.Field(f.src)
		if f.asJSON {
			if s := col.String(); s != "" {
				if err := json.Unmarshal([]byte(s), dst.Addr().Interface()); err != nil {
					return Row{}, fmt.Errorf("column %s: %w", f.column, err)
				}
			}
			continue
		}
		setColumn(dst, col)
	}
	data, err := json.Marshal(p.Interface())
	if err != nil {
		return Row{}, err
	}
	return en.row(data), nil
}

// size estimates the bytes a row holds in memory, for MaxBytes.
func (ts *typedSchema) size(row any) int {
	v := reflect.ValueOf(row)
	n := 0
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			n += 16 + f.Len()
		case reflect.Slice:
			for j := range f.Len() {
				n += 16 + f.Index(j).Len()
			}
		default:
			n += 8
		}
	}
	return n
}

// readAll reads every row of a typed file.
func (ts *typedSchema) readAll(f *parquet.File) ([]Row, error) {
	r := parquet.NewReader(f, ts.schema)
	defer r.Close()
	out := make([]Row, 0, r.NumRows())
	for {
		row := reflect.New(ts.row)
		if err := r.Read(row.Interface()); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		got, err := ts.decodeRow(row.Elem())
		if err != nil {
			return nil, err
		}
		out = append(out, got)
	}
}
