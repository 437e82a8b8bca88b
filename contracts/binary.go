package contracts

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
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
	// MaxEventBytes bounds key + value + headers of one event.
	// Zero means DefaultMaxEventBytes; negative means no limit.
	MaxEventBytes int
}

func (d Decoder) limit() int {
	if d.MaxEventBytes == 0 {
		return DefaultMaxEventBytes
	}
	return d.MaxEventBytes
}

// EncodeBinary returns the Kafka binary-mode form of e. It fails when a
// required attribute is missing or the data is not valid JSON, so nothing
// undecodable is ever published.
func EncodeBinary(e Event) (Message, error) {
	if err := e.validate(); err != nil {
		return Message{}, err
	}
	hs := make([]Header, 0, 12)
	add := func(k, v string) {
		if v != "" {
			hs = append(hs, Header{Key: k, Value: []byte(v)})
		}
	}
	add(HeaderSpecVersion, e.SpecVersion)
	add(HeaderID, e.ID)
	add(HeaderSource, e.Source)
	add(HeaderType, e.Type)
	if !e.Time.IsZero() {
		add(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	}
	add(HeaderDataSchema, e.DataSchema)
	add(HeaderSubject, e.Subject)
	if !e.ExpiryTime.IsZero() {
		add(HeaderExpiryTime, e.ExpiryTime.UTC().Format(time.RFC3339Nano))
	}
	add(HeaderCausationID, e.CausationID)
	add(HeaderCorrelationID, e.CorrelationID)
	if e.Hops > 0 {
		add(HeaderHops, strconv.Itoa(e.Hops))
	}
	if len(e.Participants) > 0 {
		add(HeaderParticipants, strings.Join(e.Participants, ","))
	}
	ct := e.DataContentType
	if ct == "" {
		ct = ContentTypeJSON
	}
	add(HeaderContentType, ct)
	return Message{Key: []byte(e.PartitionKey), Value: e.Data, Headers: hs}, nil
}

// DecodeBinary decodes a Kafka binary-mode message with the default limit.
func DecodeBinary(m Message) (Event, error) { return Decoder{}.DecodeBinary(m) }

// DecodeBinary decodes a Kafka binary-mode message strictly: every failure is
// a *DecodeError naming the attribute. It never panics, whatever the bytes.
// The returned event shares no memory with m.
func (d Decoder) DecodeBinary(m Message) (Event, error) {
	if lim := d.limit(); lim > 0 {
		size := len(m.Key) + len(m.Value)
		for _, h := range m.Headers {
			size += len(h.Key) + len(h.Value)
		}
		if size > lim {
			return Event{}, &DecodeError{Attribute: "data", Err: ErrTooLarge,
				Reason: strconv.Itoa(size) + " bytes, limit " + strconv.Itoa(lim)}
		}
	}
	var e Event
	seen := make(map[string]bool, len(m.Headers))
	for _, h := range m.Headers {
		if !strings.HasPrefix(h.Key, "ce_") && h.Key != HeaderContentType {
			continue // tracing and transport headers are not attributes
		}
		if seen[h.Key] {
			return Event{}, invalid(attrName(h.Key), "header appears more than once")
		}
		seen[h.Key] = true
		v := string(h.Value)
		var err error
		switch h.Key {
		case HeaderSpecVersion:
			e.SpecVersion = v
		case HeaderID:
			e.ID = v
		case HeaderSource:
			e.Source = v
		case HeaderType:
			e.Type = v
		case HeaderTime:
			e.Time, err = parseTime("time", v)
		case HeaderDataSchema:
			e.DataSchema = v
		case HeaderSubject:
			e.Subject = v
		case HeaderExpiryTime:
			e.ExpiryTime, err = parseTime("expirytime", v)
		case HeaderCausationID:
			e.CausationID = v
		case HeaderCorrelationID:
			e.CorrelationID = v
		case HeaderHops:
			e.Hops, err = parseHops(v)
		case HeaderParticipants:
			if v != "" {
				e.Participants = strings.Split(v, ",")
			}
		case HeaderContentType:
			e.DataContentType = v
		}
		if err != nil {
			return Event{}, err
		}
	}
	if len(m.Key) > 0 {
		e.PartitionKey = string(m.Key)
	}
	if err := e.validate(); err != nil {
		return Event{}, err
	}
	if !isJSONContentType(e.DataContentType) {
		return Event{}, invalid("datacontenttype", "want application/json, got "+strconv.Quote(e.DataContentType))
	}
	if len(m.Value) == 0 {
		return Event{}, &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "empty value"}
	}
	if !json.Valid(m.Value) {
		return Event{}, &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "not valid JSON"}
	}
	e.Data = append(json.RawMessage(nil), m.Value...)
	return e, nil
}

// validate checks the attributes every event must have.
func (e Event) validate() error {
	switch {
	case e.SpecVersion == "":
		return missing("specversion")
	case e.SpecVersion != SpecVersion:
		return &DecodeError{Attribute: "specversion", Err: ErrUnsupportedSpecVersion,
			Reason: strconv.Quote(e.SpecVersion) + ", want " + strconv.Quote(SpecVersion)}
	case e.ID == "":
		return missing("id")
	case e.Source == "":
		return missing("source")
	case e.Type == "":
		return missing("type")
	case e.Hops < 0:
		return invalid("hops", "negative")
	}
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		return &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "not valid JSON"}
	}
	return nil
}

func parseTime(attr, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid(attr, "not an RFC 3339 timestamp: "+strconv.Quote(truncate(v, 64)))
	}
	return t, nil
}

func parseHops(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1_000_000 {
		return 0, invalid("hops", "not a non-negative integer: "+strconv.Quote(truncate(v, 32)))
	}
	return n, nil
}

func isJSONContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == ContentTypeJSON || strings.HasSuffix(mt, "+json")
}

func attrName(header string) string {
	if header == HeaderContentType {
		return "datacontenttype"
	}
	return strings.TrimPrefix(header, "ce_")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
