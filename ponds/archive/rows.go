package archive

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
)

// envelope holds the columns every file has: the CloudEvents attributes,
// Watershed's extensions and where the record sat in Kafka. Empty strings
// and zero times are written as NULL. Times are TIMESTAMP(MICROS, UTC).
type envelope struct {
	ID            string    `parquet:"id"`
	Source        string    `parquet:"source,dict"`
	Type          string    `parquet:"type,dict"`
	Time          time.Time `parquet:"time,optional,timestamp(microsecond:utc)"`
	ExpiryTime    time.Time `parquet:"expiry_time,optional,timestamp(microsecond:utc)"`
	Key           string    `parquet:"key,optional"`
	Topic         string    `parquet:"topic,dict"`
	Partition     int32     `parquet:"partition"`
	Offset        int64     `parquet:"offset,delta"`
	Subject       string    `parquet:"subject,optional"`
	CausationID   string    `parquet:"causation_id,optional"`
	CorrelationID string    `parquet:"correlation_id,optional"`
	DataSchema    string    `parquet:"data_schema,optional,dict"`
	Hops          int32     `parquet:"hops"`
	Participants  string    `parquet:"participants,optional,dict"` // comma-separated, oldest first
	RecordTime    time.Time `parquet:"record_time,optional,timestamp(microsecond:utc)"`
}

// readingRow is a row of a meter.reading.v1 file: the envelope and the
// reading's typed columns. data is NULL unless the payload had members the
// columns do not hold; then it is the payload as received.
type readingRow struct {
	envelope
	MeterID        string    `parquet:"meter_id"`
	TransformerID  string    `parquet:"transformer_id,dict"`
	FeederID       string    `parquet:"feeder_id,dict"`
	ReadAt         time.Time `parquet:"read_at,timestamp(microsecond:utc)"`
	IntervalS      int32     `parquet:"interval_s"`
	EnergyKWhTotal float64   `parquet:"energy_kwh_total"`
	DemandKW       float64   `parquet:"demand_kw"`
	VoltageV       float64   `parquet:"voltage_v"`
	Flags          []string  `parquet:"flags,list"`
	Data           string    `parquet:"data,optional"`
}

// eventRow is a row of a file of any other type: the envelope and the
// payload as JSON text.
type eventRow struct {
	envelope
	Data string `parquet:"data"`
}

// typedRow is a row of a typed file (see typedSchema) and its layout.
type typedRow struct {
	ts  *typedSchema
	row any
}

// Schema names recorded in each file's key-value metadata; a typed file
// records its event type.
const (
	schemaReading = "meter.reading.v1"
	schemaEvent   = "event"
)

func newEnvelope(pos Position, e contracts.Event) envelope {
	return envelope{
		ID:            e.ID,
		Source:        e.Source,
		Type:          e.Type,
		Time:          utc(e.Time),
		ExpiryTime:    utc(e.ExpiryTime),
		Key:           e.PartitionKey,
		Topic:         pos.Topic,
		Partition:     int32(pos.Partition),
		Offset:        pos.Offset,
		Subject:       e.Subject,
		CausationID:   e.CausationID,
		CorrelationID: e.CorrelationID,
		DataSchema:    e.DataSchema,
		Hops:          int32(e.Hops),
		Participants:  strings.Join(e.Participants, ","),
		RecordTime:    utc(pos.Time),
	}
}

func newReadingRow(pos Position, e contracts.Event, r events.MeterReading, extra bool) readingRow {
	row := readingRow{
		envelope:       newEnvelope(pos, e),
		MeterID:        r.MeterID,
		TransformerID:  r.TransformerID,
		FeederID:       r.FeederID,
		ReadAt:         r.ReadAt.UTC(),
		IntervalS:      int32(r.IntervalSeconds),
		EnergyKWhTotal: r.EnergyKWhTotal,
		DemandKW:       r.DemandKW,
		VoltageV:       r.VoltageVolts,
		Flags:          r.Flags,
	}
	if extra {
		row.Data = string(e.Data)
	}
	return row
}

// size estimates the bytes a row holds in memory, for MaxBytes.
func (en *envelope) size() int {
	return 160 + len(en.ID) + len(en.Source) + len(en.Type) + len(en.Key) + len(en.Topic) +
		len(en.Subject) + len(en.CausationID) + len(en.CorrelationID) + len(en.DataSchema) + len(en.Participants)
}

func (r *readingRow) size() int {
	n := r.envelope.size() + 80 + len(r.MeterID) + len(r.TransformerID) + len(r.FeederID) + len(r.Data)
	for _, f := range r.Flags {
		n += 16 + len(f)
	}
	return n
}

func (r *eventRow) size() int { return r.envelope.size() + len(r.Data) }

// Row is one archived event and where it came from.
type Row struct {
	Topic     string
	Partition int
	Offset    int64
	// RecordTime is the Kafka record's timestamp (zero when unknown).
	RecordTime time.Time
	// Event is the event as archived. Its Data is the payload: for typed
	// files it is re-encoded from the columns (same members and values,
	// times at microsecond precision), or the payload as received when it
	// had members the columns do not hold.
	Event contracts.Event
}

func (en *envelope) row(data json.RawMessage) Row {
	var participants []string
	if en.Participants != "" {
		participants = strings.Split(en.Participants, ",")
	}
	return Row{
		Topic:      en.Topic,
		Partition:  int(en.Partition),
		Offset:     en.Offset,
		RecordTime: en.RecordTime,
		Event: contracts.Event{
			ID:              en.ID,
			Source:          en.Source,
			Type:            en.Type,
			SpecVersion:     contracts.SpecVersion,
			Time:            en.Time,
			DataContentType: contracts.ContentTypeJSON,
			DataSchema:      en.DataSchema,
			Subject:         en.Subject,
			ExpiryTime:      en.ExpiryTime,
			PartitionKey:    en.Key,
			CausationID:     en.CausationID,
			CorrelationID:   en.CorrelationID,
			Hops:            int(en.Hops),
			Participants:    participants,
			Data:            data,
		},
	}
}

func (r *readingRow) row() (Row, error) {
	if r.Data != "" {
		return r.envelope.row(json.RawMessage(r.Data)), nil
	}
	data, err := json.Marshal(events.MeterReading{
		MeterID:         r.MeterID,
		TransformerID:   r.TransformerID,
		FeederID:        r.FeederID,
		ReadAt:          r.ReadAt,
		IntervalSeconds: int(r.IntervalS),
		EnergyKWhTotal:  r.EnergyKWhTotal,
		DemandKW:        r.DemandKW,
		VoltageVolts:    r.VoltageV,
		Flags:           r.Flags,
	})
	if err != nil {
		return Row{}, err
	}
	return r.envelope.row(data), nil
}

func (r *eventRow) row() Row { return r.envelope.row(json.RawMessage(r.Data)) }

// utc returns t in UTC, and the zero time for the zero time.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
