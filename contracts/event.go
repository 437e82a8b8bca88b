package contracts

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
)

// SpecVersion is the only CloudEvents spec version Watershed accepts.
const SpecVersion = "1.0"

// ContentTypeJSON is the datacontenttype of every Watershed event.
const ContentTypeJSON = "application/json"

// DefaultMaxHops is the hop count past which an event is treated as a loop.
const DefaultMaxHops = 10

// Event is one immutable CloudEvent with Watershed's extensions.
//
// An Event is a value: copying it is cheap and nothing in Watershed edits a
// received event in place. Derive a new event with [Event.Derive].
type Event struct {
	// CloudEvents 1.0 required attributes.
	ID          string // unique per Source; the de-duplication key
	Source      string // "/services/<name>"
	Type        string // "<domain>.<noun>.<verb or state>.v<N>"
	SpecVersion string // always "1.0"

	// CloudEvents 1.0 optional attributes.
	Time            time.Time // when the occurrence happened
	DataContentType string    // "application/json"
	DataSchema      string    // URI of the JSON Schema of Data
	Subject         string    // the entity inside the source, where useful

	// ExpiryTime is the use-by date (the CloudEvents "expirytime" extension).
	// Consumers drop the event unread once it has passed. Zero means never.
	ExpiryTime time.Time

	// PartitionKey is the Kafka record key: the entity the event describes
	// (meter id, transformer id, ...), so one entity's events keep their order.
	PartitionKey string

	// Lineage.
	CausationID   string   // the ID of the event that caused this one
	CorrelationID string   // the ID shared by one chain of cause and effect
	Hops          int      // how many derivations separate this event from its origin
	Participants  []string // the services that handled the chain, oldest first

	// Data is the JSON payload, validated against the type's schema.
	Data json.RawMessage
}

// New returns an event of type typ from source with a fresh time-ordered id,
// the current time, and data marshalled to JSON. data may already be
// json.RawMessage or []byte holding JSON, or an [Identified] that also
// brings the event's id.
func New(source, typ string, data any) (Event, error) {
	raw, err := marshalData(data)
	if err != nil {
		return Event{}, err
	}
	id := ""
	if d, ok := data.(Identified); ok {
		id = d.ID
	}
	if id == "" {
		id = NewID()
	}
	now := time.Now().UTC()
	return Event{
		ID:              id,
		Source:          source,
		Type:            typ,
		SpecVersion:     SpecVersion,
		Time:            now,
		DataContentType: ContentTypeJSON,
		Data:            raw,
	}, nil
}

// Identified is event data that carries its own event id: New and Derive
// give the event ID (a fresh id when ID is empty) and Data as the payload.
// A fact with a stable identity is published this way so that every
// publication of it, through any publisher built on New (the rivers SDK
// included), has the same ce_id and is de-duplicated: a meter reading's id
// is events.ReadingID(meter id, read time).
type Identified struct {
	ID   string
	Data any // the payload, as New takes it
}

// NewID returns a new event id: a UUIDv7, so ids sort by creation time.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil { // only when the system's random source fails
		return uuid.NewString()
	}
	return id.String()
}

// Derive returns a new event caused by e: a new id, causation id = e.ID,
// correlation id carried over (or started at e.ID), hop count + 1, source
// appended to the participants, and the partition key defaulting to e's.
// e itself is not modified.
func (e Event) Derive(source, typ string, data any) (Event, error) {
	d, err := New(source, typ, data)
	if err != nil {
		return Event{}, err
	}
	d.CausationID = e.ID
	d.CorrelationID = e.CorrelationID
	if d.CorrelationID == "" {
		d.CorrelationID = e.ID
	}
	d.Hops = e.Hops + 1
	d.Participants = appendParticipant(e.Participants, e.Source)
	d.Participants = appendParticipant(d.Participants, source)
	d.PartitionKey = e.PartitionKey
	return d, nil
}

// Expired reports whether the event's use-by date has passed at now.
func (e Event) Expired(now time.Time) bool {
	return !e.ExpiryTime.IsZero() && now.After(e.ExpiryTime)
}

// Clone returns a deep copy, so a caller can build a variant without
// touching the original's slices.
func (e Event) Clone() Event {
	e.Participants = slices.Clone(e.Participants)
	e.Data = slices.Clone(e.Data)
	return e
}

func appendParticipant(ps []string, p string) []string {
	out := slices.Clone(ps)
	if p == "" || (len(out) > 0 && out[len(out)-1] == p) {
		return out
	}
	return append(out, p)
}

func marshalData(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case Identified:
		return marshalData(d.Data)
	case nil:
		return json.RawMessage("null"), nil
	case json.RawMessage:
		if !json.Valid(d) {
			return nil, &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "not valid JSON"}
		}
		return d, nil
	case []byte:
		if !json.Valid(d) {
			return nil, &DecodeError{Attribute: "data", Err: ErrInvalidData, Reason: "not valid JSON"}
		}
		return json.RawMessage(d), nil
	default:
		return json.Marshal(d)
	}
}
