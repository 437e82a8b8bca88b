package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Members of the CloudEvents JSON format (structured mode). Extension
// attributes are top-level members, as the spec requires; participants is a
// comma-separated string because extension values must be scalars.
const (
	memberSpecVersion = iota
	memberID
	memberSource
	memberType
	memberTime
	memberDataContentType
	memberDataSchema
	memberSubject
	memberExpiryTime
	memberPartitionKey
	memberCausationID
	memberCorrelationID
	memberHops
	memberParticipants
	memberData
)

// memberIndex maps a member name (exact, case-sensitive) to its index.
func memberIndex(name string) int {
	switch name {
	case "specversion":
		return memberSpecVersion
	case "id":
		return memberID
	case "source":
		return memberSource
	case "type":
		return memberType
	case "time":
		return memberTime
	case "datacontenttype":
		return memberDataContentType
	case "dataschema":
		return memberDataSchema
	case "subject":
		return memberSubject
	case "expirytime":
		return memberExpiryTime
	case "partitionkey":
		return memberPartitionKey
	case "causationid":
		return memberCausationID
	case "correlationid":
		return memberCorrelationID
	case "hops":
		return memberHops
	case "participants":
		return memberParticipants
	case "data":
		return memberData
	}
	return -1
}

// MarshalStructured returns e in CloudEvents structured JSON on one line, as
// files, the CLI and HTTP use it. The data is embedded as a JSON value,
// compacted.
func MarshalStructured(e Event) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	ct := e.DataContentType
	if ct == "" {
		ct = ContentTypeJSON
	}
	n := 200 + len(e.ID) + len(e.Source) + len(e.Type) + len(ct) + len(e.DataSchema) +
		len(e.Subject) + len(e.PartitionKey) + len(e.CausationID) + len(e.CorrelationID) + len(e.Data)
	for _, p := range e.Participants {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"specversion":`...)
	b = appendJSONString(b, e.SpecVersion)
	b = appendMember(b, "id", e.ID)
	b = appendMember(b, "source", e.Source)
	b = appendMember(b, "type", e.Type)
	if !e.Time.IsZero() {
		b = append(b, `,"time":"`...)
		b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = appendMember(b, "datacontenttype", ct)
	b = appendMember(b, "dataschema", e.DataSchema)
	b = appendMember(b, "subject", e.Subject)
	if !e.ExpiryTime.IsZero() {
		b = append(b, `,"expirytime":"`...)
		b = e.ExpiryTime.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = appendMember(b, "partitionkey", e.PartitionKey)
	b = appendMember(b, "causationid", e.CausationID)
	b = appendMember(b, "correlationid", e.CorrelationID)
	if e.Hops > 0 {
		b = append(b, `,"hops":`...)
		b = strconv.AppendInt(b, int64(e.Hops), 10)
	}
	if len(e.Participants) > 0 {
		b = append(b, `,"participants":`...)
		b = appendJSONString(b, strings.Join(e.Participants, ","))
	}
	if len(e.Data) > 0 {
		b = append(b, `,"data":`...)
		if bytes.ContainsAny(e.Data, " \t\r\n") {
			buf := bytes.NewBuffer(b)
			if err := json.Compact(buf, e.Data); err != nil {
				return nil, &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: err.Error()}
			}
			b = buf.Bytes()
		} else {
			b = append(b, e.Data...)
		}
	}
	return append(b, '}'), nil
}

func appendMember(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

// appendJSONString appends s as a JSON string, escaping what RFC 8259
// requires and replacing invalid UTF-8 with U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but not valid JavaScript
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// UnmarshalStructured decodes CloudEvents structured JSON with the default limit.
func UnmarshalStructured(b []byte) (Event, error) { return Decoder{}.UnmarshalStructured(b) }

// UnmarshalStructured decodes CloudEvents structured JSON strictly: the
// document must be one JSON object; unknown or repeated members (names are
// case-sensitive), wrong member types, bad times and trailing data are
// *DecodeErrors naming the member. A null member counts as absent; a missing
// datacontenttype means application/json, and the decoded event says so.
func (d Decoder) UnmarshalStructured(b []byte) (Event, error) {
	if lim := d.limit(); lim > 0 && len(b) > lim {
		return Event{}, tooLarge(len(b), lim)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Event{}, invalid("event", "not a JSON object"+syntaxDetail(err))
	}
	var (
		e            Event
		seen         uint32
		tm, exp      string
		participants string
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Event{}, invalid("event", "malformed JSON"+syntaxDetail(err))
		}
		name, _ := tok.(string) // object keys are always strings
		i := memberIndex(name)
		if i < 0 {
			if name == "" {
				return Event{}, invalid("event", `unknown member ""`)
			}
			return Event{}, invalid(truncate(name, 64), "unknown member")
		}
		if seen&(1<<i) != 0 {
			return Event{}, invalid(name, "member appears more than once")
		}
		seen |= 1 << i
		switch i {
		case memberSpecVersion:
			err = dec.Decode(&e.SpecVersion)
		case memberID:
			err = dec.Decode(&e.ID)
		case memberSource:
			err = dec.Decode(&e.Source)
		case memberType:
			err = dec.Decode(&e.Type)
		case memberTime:
			err = dec.Decode(&tm)
		case memberDataContentType:
			err = dec.Decode(&e.DataContentType)
		case memberDataSchema:
			err = dec.Decode(&e.DataSchema)
		case memberSubject:
			err = dec.Decode(&e.Subject)
		case memberExpiryTime:
			err = dec.Decode(&exp)
		case memberPartitionKey:
			err = dec.Decode(&e.PartitionKey)
		case memberCausationID:
			err = dec.Decode(&e.CausationID)
		case memberCorrelationID:
			err = dec.Decode(&e.CorrelationID)
		case memberHops:
			err = dec.Decode(&e.Hops)
		case memberParticipants:
			err = dec.Decode(&participants)
		case memberData:
			err = dec.Decode(&e.Data)
		}
		if err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return Event{}, invalid(name, "want a JSON "+te.Type.String()+", got "+te.Value)
			}
			return Event{}, invalid(name, "malformed JSON"+syntaxDetail(err))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return Event{}, invalid("event", "malformed JSON"+syntaxDetail(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, invalid("event", "trailing data after the JSON object")
	}
	if participants != "" {
		e.Participants = strings.Split(participants, ",")
	}
	var err error
	if tm != "" {
		if e.Time, err = parseTime("time", tm); err != nil {
			return Event{}, err
		}
	}
	if exp != "" {
		if e.ExpiryTime, err = parseTime("expirytime", exp); err != nil {
			return Event{}, err
		}
	}
	if e.DataContentType == "" {
		e.DataContentType = ContentTypeJSON
	}
	if err := e.validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

func syntaxDetail(err error) string {
	switch err {
	case nil:
		return ""
	case io.EOF:
		return ": unexpected end of input"
	}
	return ": " + truncate(err.Error(), 200)
}
