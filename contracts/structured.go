package contracts

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// structuredEvent is the CloudEvents JSON format (structured mode). Extension
// attributes are top-level members, as the spec requires; participants is a
// comma-separated string because extension values must be scalars.
type structuredEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Subject         string          `json:"subject,omitempty"`
	ExpiryTime      string          `json:"expirytime,omitempty"`
	PartitionKey    string          `json:"partitionkey,omitempty"`
	CausationID     string          `json:"causationid,omitempty"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	Hops            int             `json:"hops,omitempty"`
	Participants    string          `json:"participants,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// MarshalStructured returns e in CloudEvents structured JSON, as files, the
// CLI and HTTP use it.
func MarshalStructured(e Event) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	s := structuredEvent{
		SpecVersion:     e.SpecVersion,
		ID:              e.ID,
		Source:          e.Source,
		Type:            e.Type,
		DataContentType: e.DataContentType,
		DataSchema:      e.DataSchema,
		Subject:         e.Subject,
		PartitionKey:    e.PartitionKey,
		CausationID:     e.CausationID,
		CorrelationID:   e.CorrelationID,
		Hops:            e.Hops,
		Participants:    strings.Join(e.Participants, ","),
		Data:            e.Data,
	}
	if !e.Time.IsZero() {
		s.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if !e.ExpiryTime.IsZero() {
		s.ExpiryTime = e.ExpiryTime.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(s)
}

// UnmarshalStructured decodes CloudEvents structured JSON with the default limit.
func UnmarshalStructured(b []byte) (Event, error) { return Decoder{}.UnmarshalStructured(b) }

// UnmarshalStructured decodes CloudEvents structured JSON strictly: unknown
// members, wrong member types and bad times are *DecodeErrors.
func (d Decoder) UnmarshalStructured(b []byte) (Event, error) {
	if lim := d.limit(); lim > 0 && len(b) > lim {
		return Event{}, &DecodeError{Attribute: "data", Err: ErrTooLarge,
			Reason: strconv.Itoa(len(b)) + " bytes, limit " + strconv.Itoa(lim)}
	}
	var s structuredEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		attr := "event"
		if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
			attr = te.Field
		}
		return Event{}, invalid(attr, err.Error())
	}
	if dec.More() {
		return Event{}, invalid("event", "trailing data after the JSON object")
	}
	e := Event{
		SpecVersion:     s.SpecVersion,
		ID:              s.ID,
		Source:          s.Source,
		Type:            s.Type,
		DataContentType: s.DataContentType,
		DataSchema:      s.DataSchema,
		Subject:         s.Subject,
		PartitionKey:    s.PartitionKey,
		CausationID:     s.CausationID,
		CorrelationID:   s.CorrelationID,
		Hops:            s.Hops,
		Data:            s.Data,
	}
	if s.Participants != "" {
		e.Participants = strings.Split(s.Participants, ",")
	}
	var err error
	if s.Time != "" {
		if e.Time, err = parseTime("time", s.Time); err != nil {
			return Event{}, err
		}
	}
	if s.ExpiryTime != "" {
		if e.ExpiryTime, err = parseTime("expirytime", s.ExpiryTime); err != nil {
			return Event{}, err
		}
	}
	if err := e.validate(); err != nil {
		return Event{}, err
	}
	if !isJSONContentType(e.DataContentType) {
		return Event{}, invalid("datacontenttype", "want application/json, got "+strconv.Quote(e.DataContentType))
	}
	return e, nil
}
