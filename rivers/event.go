package rivers

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// Event is a received event as its river sees it: the envelope's
// attributes, and typed, read-only access to the payload keys the river
// declared. Reading a key the river did not declare fails with
// [ErrUndeclaredKey]. Nothing about an Event can be changed: publish a new
// event instead (see [Publisher]).
//
// Accessor errors are *[KeyError] values, permanent: a handler that returns
// them sends the event to the dead-letter topic.
//
// The zero Event (what timers' middleware sees) has no attributes and no
// keys.
type Event struct {
	env   *contracts.Event
	river *River
	data  *payload
}

func newEvent(env *contracts.Event, r *River, p *payload) Event {
	return Event{env: env, river: r, data: p}
}

// ID returns the event id (ce_id).
func (e Event) ID() string { return e.attr(func(c *contracts.Event) string { return c.ID }) }

// Type returns the event type (ce_type).
func (e Event) Type() string { return e.attr(func(c *contracts.Event) string { return c.Type }) }

// Source returns the publishing source (ce_source), "/services/<name>".
func (e Event) Source() string { return e.attr(func(c *contracts.Event) string { return c.Source }) }

// Subject returns the subject (ce_subject), possibly empty.
func (e Event) Subject() string { return e.attr(func(c *contracts.Event) string { return c.Subject }) }

// Key returns the partition key: the entity the event describes.
func (e Event) Key() string { return e.attr(func(c *contracts.Event) string { return c.PartitionKey }) }

// CausationID returns the id of the event that caused this one.
func (e Event) CausationID() string {
	return e.attr(func(c *contracts.Event) string { return c.CausationID })
}

// CorrelationID returns the id shared by the chain of cause and effect.
func (e Event) CorrelationID() string {
	return e.attr(func(c *contracts.Event) string { return c.CorrelationID })
}

// OccurredAt returns when the occurrence happened (ce_time).
func (e Event) OccurredAt() time.Time {
	if e.env == nil {
		return time.Time{}
	}
	return e.env.Time
}

// ExpiryTime returns the use-by date; zero means never.
func (e Event) ExpiryTime() time.Time {
	if e.env == nil {
		return time.Time{}
	}
	return e.env.ExpiryTime
}

// Hops returns how many derivations separate the event from its origin.
func (e Event) Hops() int {
	if e.env == nil {
		return 0
	}
	return e.env.Hops
}

// Participants returns a copy of the services that handled the chain,
// oldest first.
func (e Event) Participants() []string {
	if e.env == nil {
		return nil
	}
	return slices.Clone(e.env.Participants)
}

// Envelope returns a deep copy of the whole event, payload included. It is
// for logging, forwarding and archiving; reading payload keys through it
// bypasses the river's declarations, so handlers use the typed accessors.
func (e Event) Envelope() contracts.Event {
	if e.env == nil {
		return contracts.Event{}
	}
	return e.env.Clone()
}

func (e Event) attr(f func(*contracts.Event) string) string {
	if e.env == nil {
		return ""
	}
	return f(e.env)
}

// String returns the string at key.
func (e Event) String(key string) (string, error) {
	raw, err := e.raw(key)
	if err != nil {
		return "", err
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", e.keyErr(key, ErrKeyType, "want a string, got "+truncate(string(raw), 32))
	}
	return s, nil
}

// Float returns the number at key.
func (e Event) Float(key string) (float64, error) {
	raw, err := e.raw(key)
	if err != nil {
		return 0, err
	}
	f, perr := strconv.ParseFloat(string(raw), 64)
	if perr != nil || !isJSONNumber(raw) {
		return 0, e.keyErr(key, ErrKeyType, "want a number, got "+truncate(string(raw), 32))
	}
	return f, nil
}

// Int returns the integer at key. A number with a fraction is an error.
func (e Event) Int(key string) (int64, error) {
	raw, err := e.raw(key)
	if err != nil {
		return 0, err
	}
	if !isJSONNumber(raw) {
		return 0, e.keyErr(key, ErrKeyType, "want an integer, got "+truncate(string(raw), 32))
	}
	if n, perr := strconv.ParseInt(string(raw), 10, 64); perr == nil {
		return n, nil
	}
	// 1e3 and 5.0 are integers too.
	f, perr := strconv.ParseFloat(string(raw), 64)
	if perr != nil || f != math.Trunc(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, e.keyErr(key, ErrKeyType, "want an integer, got "+truncate(string(raw), 32))
	}
	return int64(f), nil
}

// Bool returns the boolean at key.
func (e Event) Bool(key string) (bool, error) {
	raw, err := e.raw(key)
	if err != nil {
		return false, err
	}
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, e.keyErr(key, ErrKeyType, "want a boolean, got "+truncate(string(raw), 32))
}

// Time returns the RFC 3339 timestamp at key.
func (e Event) Time(key string) (time.Time, error) {
	s, err := e.String(key)
	if err != nil {
		return time.Time{}, err
	}
	t, perr := time.Parse(time.RFC3339Nano, s)
	if perr != nil {
		return time.Time{}, e.keyErr(key, ErrKeyType, "want an RFC 3339 timestamp, got "+strconv.Quote(truncate(s, 40)))
	}
	return t, nil
}

// Strings returns the array of strings at key.
func (e Event) Strings(key string) ([]string, error) {
	raw, err := e.raw(key)
	if err != nil {
		return nil, err
	}
	var ss []string
	if raw[0] != '[' || json.Unmarshal(raw, &ss) != nil {
		return nil, e.keyErr(key, ErrKeyType, "want an array of strings, got "+truncate(string(raw), 32))
	}
	return ss, nil
}

// Raw returns a copy of the JSON at key, for values no typed accessor reads.
func (e Event) Raw(key string) (json.RawMessage, error) {
	raw, err := e.raw(key)
	if err != nil {
		return nil, err
	}
	return slices.Clone(raw), nil
}

// Decode unmarshals the payload into v, a pointer to a struct, the way
// encoding/json does. Every field of the struct must be a key the river
// declared (compared as encoding/json matches names); otherwise Decode reads
// nothing and fails with [ErrUndeclaredKey] naming the fields. Declare
// optional fields with [River.Interested].
func (e Event) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return Permanent(fmt.Errorf("rivers: Decode wants a non-nil pointer to a struct, got %T", v))
	}
	if e.river == nil || e.data == nil {
		return e.keyErr("", ErrUndeclaredKey, "no river: this event has no payload")
	}
	var undeclared []string
	for _, name := range jsonFieldNames(rv.Elem().Type()) {
		if !e.river.allowsFold(name) {
			undeclared = append(undeclared, name)
		}
	}
	if len(undeclared) > 0 {
		return e.keyErr(strings.Join(undeclared, ","), ErrUndeclaredKey,
			fmt.Sprintf("%T has fields the river does not declare", v))
	}
	if err := json.Unmarshal(e.data.raw, v); err != nil {
		return e.keyErr("", ErrKeyType, err.Error())
	}
	return nil
}

func (e Event) raw(key string) (json.RawMessage, error) {
	if e.river == nil || e.data == nil {
		return nil, e.keyErr(key, ErrUndeclaredKey, "no river: this event has no payload")
	}
	if !e.river.allows(key) {
		return nil, e.keyErr(key, ErrUndeclaredKey, "declare it with Require, RequireValue, Forbid or Interested")
	}
	p, err := splitPath(key)
	if err != nil {
		return nil, e.keyErr(key, ErrUndeclaredKey, err.Error())
	}
	raw, ok := e.data.lookup(p)
	if !ok {
		return nil, e.keyErr(key, ErrMissingKey, "")
	}
	return raw, nil
}

func (e Event) keyErr(key string, sentinel error, reason string) error {
	name := ""
	if e.river != nil {
		name = e.river.Name()
	}
	return &KeyError{River: name, Key: key, Reason: reason, Err: sentinel}
}

func isJSONNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}

// allowsFold is allows with encoding/json's case-insensitive name matching,
// for Decode: a struct field named MeterID reads the key "meterid".
func (r *River) allowsFold(name string) bool {
	if r.allows(name) {
		return true
	}
	for k := range r.declared {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// payload is an event's JSON data, split lazily one object level at a time
// and shared by every river that reads the same record.
type payload struct {
	raw    json.RawMessage
	mu     sync.Mutex // handlers may read one event from several goroutines
	once   bool
	top    []member
	nested []nestedObject
}

type nestedObject struct {
	path    string
	members []member
}

func newPayload(raw json.RawMessage) *payload { return &payload{raw: raw} }

// lookup returns the JSON at path; absent and null are both not found.
func (p *payload) lookup(path []string) (json.RawMessage, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.once {
		p.once = true
		p.top = scanObject(p.raw)
	}
	obj := p.top
	for i, seg := range path {
		raw, ok := find(obj, seg)
		if !ok || isNull(raw) {
			return nil, false
		}
		if i == len(path)-1 {
			return raw, true
		}
		obj = p.object(strings.Join(path[:i+1], "."), raw)
	}
	return nil, false
}

// object returns the members of the nested object at prefix, cached.
func (p *payload) object(prefix string, raw json.RawMessage) []member {
	for _, n := range p.nested {
		if n.path == prefix {
			return n.members
		}
	}
	ms := scanObject(raw)
	p.nested = append(p.nested, nestedObject{path: prefix, members: ms})
	return ms
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// jsonFieldNames returns the JSON member names encoding/json would fill in
// a struct type, following embedded structs. Cached per type.
func jsonFieldNames(t reflect.Type) []string {
	if v, ok := fieldNameCache.Load(t); ok {
		return v.([]string)
	}
	var names []string
	var walk func(reflect.Type, int)
	walk = func(t reflect.Type, depth int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct && depth < 8 {
				walk(ft, depth+1)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			names = append(names, name)
		}
	}
	walk(t, 0)
	fieldNameCache.Store(t, names)
	return names
}

var fieldNameCache sync.Map // reflect.Type → []string; types are finite, so is the cache
