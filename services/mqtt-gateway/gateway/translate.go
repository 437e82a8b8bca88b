package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

// ErrPayload is wrapped by every error of Translate: the payload can never
// become a meter.reading.v1 event, so it is dead-lettered, not retried.
var ErrPayload = errors.New("invalid meter payload")

// PayloadError says why one MQTT payload was refused.
type PayloadError struct {
	Topic  string
	Reason string
}

func (e *PayloadError) Error() string { return "mqtt " + e.Topic + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrPayload) true.
func (e *PayloadError) Unwrap() error { return ErrPayload }

// MeterFromTopic returns what the first single-level wildcard ("+") of
// pattern matched in topic: the meter id of "meters/+/reading". It returns
// false when the topic does not match the pattern or the pattern has no
// "+".
func MeterFromTopic(pattern, topic string) (string, bool) {
	ps, ts := strings.Split(pattern, "/"), strings.Split(topic, "/")
	id, found := "", false
	for i, p := range ps {
		if p == "#" {
			return id, found
		}
		if i >= len(ts) {
			return "", false
		}
		switch p {
		case "+":
			if !found {
				id, found = ts[i], true
			}
		default:
			if p != ts[i] {
				return "", false
			}
		}
	}
	if len(ps) != len(ts) {
		return "", false
	}
	return id, found && id != ""
}

// Translate turns one MQTT payload — a JSON object with meter.reading.v1's
// properties — into the event data of a meter.reading.v1, in canonical
// JSON. meter_id may be left out of the payload: it is then taken from the
// topic (the first "+" of pattern); when both are present they must agree.
// Unknown properties, wrong types and missing required properties are
// refused: the gateway publishes only readings the event catalog's schema
// (contracts/catalog) accepts. Errors wrap ErrPayload.
func Translate(pattern, topic string, payload []byte) (events.MeterReading, []byte, error) {
	fail := func(format string, args ...any) (events.MeterReading, []byte, error) {
		return events.MeterReading{}, nil, &PayloadError{Topic: topic, Reason: fmt.Sprintf(format, args...)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil || fields == nil {
		return fail("payload is not a JSON object")
	}
	topicID, hasTopicID := MeterFromTopic(pattern, topic)
	if raw, ok := fields["meter_id"]; ok {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			return fail("meter_id: want a string")
		}
		if hasTopicID && id != topicID {
			return fail("meter_id %q differs from the topic's %q", id, topicID)
		}
	} else {
		if !hasTopicID {
			return fail("no meter_id in the payload and none in the topic (pattern %q)", pattern)
		}
		raw, _ := json.Marshal(topicID)
		fields["meter_id"] = raw
	}
	merged, err := json.Marshal(fields)
	if err != nil {
		return fail("payload: %v", err)
	}
	// One pass validates (the catalog's verdict) and decodes.
	var r events.MeterReading
	if err := catalog.DecodeMeterReading(merged, &r); err != nil {
		return events.MeterReading{}, nil, &PayloadError{Topic: topic, Reason: err.Error()}
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fail("encode: %v", err)
	}
	return r, data, nil
}
