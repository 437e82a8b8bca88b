package contracts

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kafka header names of CloudEvents binary mode. Attributes travel as "ce_"
// headers, the record value is the JSON data, and the record key is the
// partition key.
const (
	HeaderSpecVersion   = "ce_specversion"
	HeaderID            = "ce_id"
	HeaderSource        = "ce_source"
	HeaderType          = "ce_type"
	HeaderTime          = "ce_time"
	HeaderDataSchema    = "ce_dataschema"
	HeaderSubject       = "ce_subject"
	HeaderExpiryTime    = "ce_expirytime"
	HeaderCausationID   = "ce_causationid"
	HeaderCorrelationID = "ce_correlationid"
	HeaderHops          = "ce_hops"
	HeaderParticipants  = "ce_participants"
	HeaderContentType   = "content-type"
)

// DefaultMaxEventBytes is the default size limit of one event: 1 MiB.
const DefaultMaxEventBytes = 1 << 20

// Limits of the contract on attributes and headers, in bytes. Decoding
// (binary and structured) and encoding refuse an event past one of them
// with a *DecodeError wrapping ErrTooLarge, so a consumer never keeps, logs
// or de-duplicates on an unbounded attribute. They are far above what any
// Watershed producer writes (a ce_id is a 36-byte UUID or a reading's
// meter-and-time id; a ce_source is /services/<name> or /meters/<id>).
const (
	MaxIDBytes     = 256 // ce_id
	MaxSourceBytes = 256 // ce_source
	MaxTypeBytes   = 128 // ce_type
	// MaxAttributeBytes bounds each other string attribute: dataschema,
	// subject, causationid, correlationid, datacontenttype, partitionkey
	// (the record key) and each participant.
	MaxAttributeBytes = 1024
	// MaxParticipantsBytes bounds ce_participants as a whole.
	MaxParticipantsBytes = 4096
	// MaxHeaders bounds the headers of one record, attributes or not.
	MaxHeaders = 64
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is an event in Kafka binary mode: what a Kafka record carries.
type Message struct {
	Key     []byte
	Value   []byte
	Headers []Header
}

// HeaderValue returns the value of the first header named key. It is how a
// consumer reads ce_type without decoding anything else.
func HeaderValue(hs []Header, key string) ([]byte, bool) {
	for i := range hs {
		if hs[i].Key == key {
			return hs[i].Value, true
		}
	}
	return nil, false
}

// Decoder decodes events under a size limit. The zero value is ready to use
// and applies DefaultMaxEventBytes.
type Decoder struct {
	// MaxEventBytes bounds key + value + headers of one event (binary mode)
	// or the whole document (structured mode).
	// Zero means DefaultMaxEventBytes; negative means no limit.
	MaxEventBytes int
	// DataChecked says the caller parses the data itself right after (a
	// schema validator does, and rejects what is not JSON): binary-mode
	// decoding then skips its own JSON syntax check of the value, which is
	// otherwise a second full pass over it. An empty value is still an
	// error.
	DataChecked bool
}

func (d Decoder) limit() int {
	if d.MaxEventBytes == 0 {
		return DefaultMaxEventBytes
	}
	return d.MaxEventBytes
}

// attribute indexes of the headers DecodeBinary reads, in the order their
// values are laid out in one string.
const (
	attrSpecVersion = iota
	attrID
	attrSource
	attrType
	attrTime
	attrDataSchema
	attrSubject
	attrExpiryTime
	attrCausationID
	attrCorrelationID
	attrHops
	attrParticipants
	attrContentType
	numAttrs
)

// headerAttr maps a header name to its attribute index, or -1 for headers
// that are not attributes (tracing, transport, unknown extensions).
func headerAttr(key string) int {
	switch key {
	case HeaderSpecVersion:
		return attrSpecVersion
	case HeaderID:
		return attrID
	case HeaderSource:
		return attrSource
	case HeaderType:
		return attrType
	case HeaderTime:
		return attrTime
	case HeaderDataSchema:
		return attrDataSchema
	case HeaderSubject:
		return attrSubject
	case HeaderExpiryTime:
		return attrExpiryTime
	case HeaderCausationID:
		return attrCausationID
	case HeaderCorrelationID:
		return attrCorrelationID
	case HeaderHops:
		return attrHops
	case HeaderParticipants:
		return attrParticipants
	case HeaderContentType:
		return attrContentType
	}
	return -1
}

// EncodeBinary returns the Kafka binary-mode form of e. It fails when a
// required attribute is missing, an attribute would not decode, or the data is
// empty or not valid JSON, so nothing undecodable is ever published.
//
// The header values and the key share one allocation; the value is e.Data
// itself, not a copy (events are immutable).
func EncodeBinary(e Event) (Message, error) {
	if err := e.validate(); err != nil {
		return Message{}, err
	}
	if len(e.Data) == 0 {
		return Message{}, &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "empty value"}
	}
	ct := e.DataContentType
	if ct == "" {
		ct = ContentTypeJSON
	}
	n := len(e.SpecVersion) + len(e.ID) + len(e.Source) + len(e.Type) + len(e.DataSchema) +
		len(e.Subject) + len(e.CausationID) + len(e.CorrelationID) + len(ct) + len(e.PartitionKey) +
		2*len(time.RFC3339Nano) + 20
	for _, p := range e.Participants {
		n += len(p) + 1
	}
	w := headerWriter{buf: make([]byte, 0, n), hs: make([]Header, 0, numAttrs)}
	w.str(HeaderSpecVersion, e.SpecVersion)
	w.str(HeaderID, e.ID)
	w.str(HeaderSource, e.Source)
	w.str(HeaderType, e.Type)
	if !e.Time.IsZero() {
		start := len(w.buf)
		w.buf = e.Time.UTC().AppendFormat(w.buf, time.RFC3339Nano)
		w.done(HeaderTime, start)
	}
	w.str(HeaderDataSchema, e.DataSchema)
	w.str(HeaderSubject, e.Subject)
	if !e.ExpiryTime.IsZero() {
		start := len(w.buf)
		w.buf = e.ExpiryTime.UTC().AppendFormat(w.buf, time.RFC3339Nano)
		w.done(HeaderExpiryTime, start)
	}
	w.str(HeaderCausationID, e.CausationID)
	w.str(HeaderCorrelationID, e.CorrelationID)
	if e.Hops > 0 {
		start := len(w.buf)
		w.buf = strconv.AppendInt(w.buf, int64(e.Hops), 10)
		w.done(HeaderHops, start)
	}
	if len(e.Participants) > 0 {
		start := len(w.buf)
		for i, p := range e.Participants {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, p...)
		}
		w.done(HeaderParticipants, start)
	}
	w.str(HeaderContentType, ct)
	var key []byte
	if e.PartitionKey != "" {
		start := len(w.buf)
		w.buf = append(w.buf, e.PartitionKey...)
		key = w.buf[start:len(w.buf):len(w.buf)]
	}
	return Message{Key: key, Value: e.Data, Headers: w.hs}, nil
}

// headerWriter lays header values out in one buffer. Each value is a
// capacity-capped window of it, so appending to one cannot overwrite another.
type headerWriter struct {
	buf []byte
	hs  []Header
}

func (w *headerWriter) str(key, v string) {
	if v == "" {
		return
	}
	start := len(w.buf)
	w.buf = append(w.buf, v...)
	w.done(key, start)
}

func (w *headerWriter) done(key string, start int) {
	end := len(w.buf)
	w.hs = append(w.hs, Header{Key: key, Value: w.buf[start:end:end]})
}

// DecodeBinary decodes a Kafka binary-mode message with the default limit.
func DecodeBinary(m Message) (Event, error) { return Decoder{}.DecodeBinary(m) }

// DecodeBinary decodes a Kafka binary-mode message strictly: every failure is
// a *DecodeError naming the attribute. It never panics, whatever the bytes.
// The returned event shares no memory with m.
//
// Headers that are not attributes (traceparent, unknown ce_ extensions) are
// ignored; an attribute header that appears twice is an error. A missing
// content-type means application/json, and the decoded event says so.
func (d Decoder) DecodeBinary(m Message) (Event, error) {
	if len(m.Headers) > MaxHeaders {
		return Event{}, &DecodeError{Attribute: "headers", Err: ErrTooLarge,
			Reason: strconv.Itoa(len(m.Headers)) + " headers, limit " + strconv.Itoa(MaxHeaders)}
	}
	if lim := d.limit(); lim > 0 {
		size := len(m.Key) + len(m.Value)
		for i := range m.Headers {
			size += len(m.Headers[i].Key) + len(m.Headers[i].Value)
		}
		if size > lim {
			return Event{}, tooLarge(size, lim)
		}
	}
	// Find the attribute headers (1-based header index per attribute), reject
	// duplicates, and size one string that holds every value and the key.
	var at [numAttrs]int
	n := len(m.Key)
	for i := range m.Headers {
		a := headerAttr(m.Headers[i].Key)
		if a < 0 {
			continue
		}
		if at[a] != 0 {
			return Event{}, invalid(attrName(m.Headers[i].Key), "header appears more than once")
		}
		at[a] = i + 1
		n += len(m.Headers[i].Value)
	}
	if at[attrContentType] != 0 {
		if ct := m.Headers[at[attrContentType]-1].Value; isStructuredContentType(string(ct)) {
			return Event{}, invalid("datacontenttype", "structured-mode record ("+
				strconv.Quote(truncate(string(ct), 64))+"); Watershed topics carry binary mode")
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, hi := range at {
		if hi != 0 {
			sb.Write(m.Headers[hi-1].Value)
		}
	}
	sb.Write(m.Key)
	all := sb.String()

	var e Event
	off := 0
	for a, hi := range at {
		if hi == 0 {
			continue
		}
		v := all[off : off+len(m.Headers[hi-1].Value)]
		off += len(v)
		var err error
		switch a {
		case attrSpecVersion:
			e.SpecVersion = v
		case attrID:
			e.ID = v
		case attrSource:
			e.Source = v
		case attrType:
			e.Type = v
		case attrTime:
			e.Time, err = parseTime("time", v)
		case attrDataSchema:
			e.DataSchema = v
		case attrSubject:
			e.Subject = v
		case attrExpiryTime:
			e.ExpiryTime, err = parseTime("expirytime", v)
		case attrCausationID:
			e.CausationID = v
		case attrCorrelationID:
			e.CorrelationID = v
		case attrHops:
			e.Hops, err = parseHops(v)
		case attrParticipants:
			if v != "" {
				e.Participants = strings.Split(v, ",")
			}
		case attrContentType:
			e.DataContentType = v
		}
		if err != nil {
			return Event{}, err
		}
	}
	if off < len(all) {
		e.PartitionKey = all[off:]
	}
	if e.DataContentType == "" {
		e.DataContentType = ContentTypeJSON
	}
	if err := e.validate(); err != nil {
		return Event{}, err
	}
	if len(m.Value) == 0 {
		return Event{}, &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "empty value"}
	}
	if !d.DataChecked && !json.Valid(m.Value) {
		return Event{}, InvalidData()
	}
	e.Data = append(json.RawMessage(nil), m.Value...)
	return e, nil
}

// InvalidData is the error of a value that is not JSON.
func InvalidData() *DecodeError {
	return &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "not valid JSON"}
}

// MaxHops bounds the hop count an event may carry on the wire; anything
// above it is garbage, not a loop (loops are cut at DefaultMaxHops).
const MaxHops = 1_000_000

// validate checks what every event must satisfy to be encoded and decoded
// back unchanged: required attributes, spec version, string attributes
// without control characters, times within years 0-9999, participants
// without commas, JSON content type and data.
func (e Event) validate() error {
	switch {
	case e.SpecVersion == "":
		return missing("specversion")
	case e.SpecVersion != SpecVersion:
		return &DecodeError{Attribute: "specversion", Err: ErrUnsupportedSpecVersion,
			Reason: strconv.Quote(truncate(e.SpecVersion, 32)) + ", want " + strconv.Quote(SpecVersion)}
	case e.ID == "":
		return missing("id")
	case e.Source == "":
		return missing("source")
	case e.Type == "":
		return missing("type")
	case e.Hops < 0 || e.Hops > MaxHops:
		return invalid("hops", "not between 0 and "+strconv.Itoa(MaxHops)+": "+strconv.Itoa(e.Hops))
	}
	participants := 0
	for _, p := range e.Participants {
		participants += len(p) + 1
	}
	if participants > MaxParticipantsBytes+1 {
		return tooLong("participants", participants-1, MaxParticipantsBytes)
	}
	for _, a := range [...]struct {
		name, v string
		max     int
	}{
		{"id", e.ID, MaxIDBytes}, {"source", e.Source, MaxSourceBytes}, {"type", e.Type, MaxTypeBytes},
		{"dataschema", e.DataSchema, MaxAttributeBytes}, {"subject", e.Subject, MaxAttributeBytes},
		{"causationid", e.CausationID, MaxAttributeBytes}, {"correlationid", e.CorrelationID, MaxAttributeBytes},
		{"datacontenttype", e.DataContentType, MaxAttributeBytes}, {"partitionkey", e.PartitionKey, MaxAttributeBytes},
	} {
		if len(a.v) > a.max {
			return tooLong(a.name, len(a.v), a.max)
		}
		if a.name == "partitionkey" {
			continue // a Kafka key: any bytes
		}
		if reason := checkString(a.v); reason != "" {
			return invalid(a.name, reason)
		}
	}
	for _, p := range e.Participants {
		if len(p) > MaxAttributeBytes {
			return tooLong("participants", len(p), MaxAttributeBytes)
		}
		if p == "" || strings.IndexByte(p, ',') >= 0 {
			return invalid("participants", "a participant is empty or contains a comma: "+strconv.Quote(truncate(p, 64)))
		}
		if reason := checkString(p); reason != "" {
			return invalid("participants", reason)
		}
	}
	if err := checkTimeRange("time", e.Time); err != nil {
		return err
	}
	if err := checkTimeRange("expirytime", e.ExpiryTime); err != nil {
		return err
	}
	if !isJSONContentType(e.DataContentType) {
		return invalid("datacontenttype", "want application/json, got "+strconv.Quote(truncate(e.DataContentType, 64)))
	}
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		return &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "not valid JSON"}
	}
	return nil
}

// checkString returns why s is not a CloudEvents String (valid UTF-8 without
// control characters), or "" when it is.
func checkString(s string) string {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return "contains control character " + strconv.QuoteRune(rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return "not valid UTF-8"
		}
		if r <= 0x9F {
			return "contains control character " + strconv.QuoteRune(r)
		}
		i += size
	}
	return ""
}

func checkTimeRange(attr string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return invalid(attr, "year "+strconv.Itoa(y)+" in UTC is outside 0000-9999")
	}
	return nil
}

func parseTime(attr, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid(attr, "not an RFC 3339 timestamp: "+strconv.Quote(truncate(v, 64)))
	}
	if err := checkTimeRange(attr, t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

func parseHops(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > MaxHops {
		return 0, invalid("hops", "not an integer between 0 and "+strconv.Itoa(MaxHops)+": "+strconv.Quote(truncate(v, 32)))
	}
	return n, nil
}

func isJSONContentType(ct string) bool {
	if ct == "" || ct == ContentTypeJSON {
		return true
	}
	if isStructuredContentType(ct) {
		return false
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == ContentTypeJSON || strings.HasSuffix(mt, "+json")
}

// isStructuredContentType reports the media types of CloudEvents structured
// mode ("application/cloudevents+json", "application/cloudevents-batch+json").
func isStructuredContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.HasPrefix(strings.TrimSpace(strings.ToLower(mt)), "application/cloudevents")
}

func attrName(header string) string {
	if header == HeaderContentType {
		return "datacontenttype"
	}
	return strings.TrimPrefix(header, "ce_")
}

func tooLarge(size, lim int) error {
	return &DecodeError{Attribute: "data", Err: ErrTooLarge,
		Reason: strconv.Itoa(size) + " bytes, limit " + strconv.Itoa(lim)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}

// tooLong is the error of an attribute past its limit.
func tooLong(attr string, n, max int) error {
	return &DecodeError{Attribute: attr, Err: ErrTooLarge,
		Reason: strconv.Itoa(n) + " bytes, limit " + strconv.Itoa(max)}
}
