package rivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/watershed-grid/watershed/contracts"
)

// Topic names a topic a river reads or a publication goes to. [Rivers]
// and [Rapids] are resolved through the service's configuration (the Kafka
// topic names may differ per environment); any other value is a topic name
// used as is.
type Topic string

// The two topics of the ecosystem.
const (
	// Rivers is the topic of business and system events, read by most
	// services; the default for rivers and publications.
	Rivers Topic = "rivers"
	// Rapids is the topic of raw signals, read only by stage-1 services.
	Rapids Topic = "rapids"
)

// River declares which events a handler wants: event types (checked on the
// ce_type header before anything is decoded), the topic, and rules on the
// payload's keys. A handler may read only the keys its river declares;
// reading any other key is an error ([ErrUndeclaredKey]), so a river is also
// the documentation of what a service depends on, and heartbeats publish it.
//
// Build a River with [NewRiver] and its chained methods, then register it
// with [Service.Handle]. Keys are JSON object members; a dotted path
// ("location.feeder_id") reaches into nested objects. A River must not be
// changed after it is registered.
type River struct {
	name       string
	types      []string // exact types
	prefixes   []string // "meter." for "meter.*"; "" for "*"
	patterns   []string // as given, for heartbeats
	topic      Topic
	require    []keyRule
	forbid     []keyRule
	interested []string
	passive    bool
	onReject   func(context.Context, Rejection)
	onExpired  func(context.Context, contracts.Event)
	errs       []error
	declared   map[string]struct{}
}

// keyRule is one rule on one key: presence, or membership in values.
type keyRule struct {
	key    string
	path   []string
	values []any // canonical JSON scalars: string, float64, bool, nil
	shown  []string
}

// Rejection is what a river's rejection hook receives: an event of the
// river's types whose payload failed the river's key rules.
type Rejection struct {
	River    string
	Event    contracts.Event // a copy; the hook may keep it
	Problems []string        // one line per failed rule
}

// NewRiver returns a river of the given event types. A type is either exact
// ("meter.reading.v1") or a prefix pattern ending in ".*" ("system.*");
// "*" matches every type (for archivers and taps; see [River.Passive]).
// The river reads [Rivers] unless [River.OnTopic] says otherwise.
func NewRiver(types ...string) *River {
	r := &River{topic: Rivers, declared: map[string]struct{}{}}
	if len(types) == 0 {
		r.errs = append(r.errs, fmt.Errorf("no event types: pass at least one type or \"*\""))
	}
	for _, t := range types {
		switch {
		case t == "*":
			r.prefixes = append(r.prefixes, "")
		case strings.HasSuffix(t, ".*") && len(t) > 2 && !strings.Contains(t[:len(t)-2], "*"):
			r.prefixes = append(r.prefixes, t[:len(t)-1])
		case t == "" || strings.ContainsAny(t, "* \t\n,"):
			r.errs = append(r.errs, fmt.Errorf("invalid event type %q", t))
			continue
		default:
			r.types = append(r.types, t)
		}
		r.patterns = append(r.patterns, t)
	}
	return r
}

// Named sets the river's name, used in metrics, logs, dead letters and
// heartbeats. Default: its types joined by ",". Names are unique within a
// service.
func (r *River) Named(name string) *River {
	if name == "" {
		r.errs = append(r.errs, fmt.Errorf("empty river name"))
	}
	r.name = name
	return r
}

// OnTopic sets the topic the river reads. Default: [Rivers].
func (r *River) OnTopic(t Topic) *River {
	if t == "" {
		r.errs = append(r.errs, fmt.Errorf("empty topic"))
	}
	r.topic = t
	return r
}

// Require declares keys that must be present and not null; events without
// them are rejected before the handler.
func (r *River) Require(keys ...string) *River {
	for _, k := range keys {
		if p, ok := r.declare(k); ok {
			r.require = append(r.require, keyRule{key: k, path: p})
		}
	}
	return r
}

// RequireValue declares key and requires it to equal value (a string,
// number or bool).
func (r *River) RequireValue(key string, value any) *River {
	return r.RequireValues(key, value)
}

// RequireValues declares key and requires it to equal one of values
// (strings, numbers or bools).
func (r *River) RequireValues(key string, values ...any) *River {
	p, ok := r.declare(key)
	if !ok {
		return r
	}
	rule, err := newValueRule(key, p, values)
	if err != nil {
		r.errs = append(r.errs, err)
		return r
	}
	r.require = append(r.require, rule)
	return r
}

// Forbid declares keys that must be absent (or null); events that carry
// them are rejected before the handler.
func (r *River) Forbid(keys ...string) *River {
	for _, k := range keys {
		if p, ok := r.declare(k); ok {
			r.forbid = append(r.forbid, keyRule{key: k, path: p})
		}
	}
	return r
}

// ForbidValues declares key and rejects events where it equals one of
// values (strings, numbers or bools). The key may be absent.
func (r *River) ForbidValues(key string, values ...any) *River {
	p, ok := r.declare(key)
	if !ok {
		return r
	}
	rule, err := newValueRule(key, p, values)
	if err != nil {
		r.errs = append(r.errs, err)
		return r
	}
	r.forbid = append(r.forbid, rule)
	return r
}

// Interested declares optional keys: the handler may read them, and they
// may be absent ([ErrMissingKey]).
func (r *River) Interested(keys ...string) *River {
	for _, k := range keys {
		if _, ok := r.declare(k); ok {
			r.interested = append(r.interested, k)
		}
	}
	return r
}

// Passive marks the river as not creating demand: archivers, taps and
// monitors read events without being a reason to keep publishing them.
// Heartbeats carry the flag, and the demand tracker ignores passive rivers
// when it decides what to retire.
func (r *River) Passive() *River {
	r.passive = true
	return r
}

// OnReject sets a hook called with each event of the river's types whose
// payload fails its key rules. Rejections are counted whether or not a hook
// is set. The hook runs on the consuming goroutine, in record order: keep it short.
func (r *River) OnReject(fn func(context.Context, Rejection)) *River {
	r.onReject = fn
	return r
}

// OnExpired sets a hook called with each event of the river's types that
// arrives after its use-by date (ce_expirytime) and is dropped. Expired
// events are counted whether or not a hook is set. The hook runs on the
// goroutine that decodes records, ahead of the handlers: keep it short and
// do not share unguarded state with them.
func (r *River) OnExpired(fn func(context.Context, contracts.Event)) *River {
	r.onExpired = fn
	return r
}

// Name returns the river's name.
func (r *River) Name() string {
	if r.name != "" {
		return r.name
	}
	return strings.Join(r.patterns, ",")
}

// Types returns the river's type patterns as given to NewRiver.
func (r *River) Types() []string { return slices.Clone(r.patterns) }

// err reports what was wrong in the river's declaration.
func (r *River) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("river %q: %w", r.Name(), errors.Join(r.errs...))
}

func (r *River) declare(key string) ([]string, bool) {
	p, err := splitPath(key)
	if err != nil {
		r.errs = append(r.errs, err)
		return nil, false
	}
	r.declared[key] = struct{}{}
	return p, true
}

// matchType reports whether the river wants events of type typ.
func (r *River) matchType(typ string) bool {
	for _, t := range r.types {
		if t == typ {
			return true
		}
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}

// allows reports whether key may be read: declared itself, or inside a
// declared object.
func (r *River) allows(key string) bool {
	if _, ok := r.declared[key]; ok {
		return true
	}
	for i := len(key) - 1; i > 0; i-- {
		if key[i] == '.' {
			if _, ok := r.declared[key[:i]]; ok {
				return true
			}
		}
	}
	return false
}

// check applies the key rules to a payload and returns the problems.
func (r *River) check(p *payload) []string {
	var problems []string
	for _, rule := range r.require {
		raw, ok := p.lookup(rule.path)
		if !ok {
			problems = append(problems, fmt.Sprintf("required key %q is missing", rule.key))
			continue
		}
		if len(rule.values) > 0 && !rule.matches(raw) {
			problems = append(problems, fmt.Sprintf("key %q is %s, want one of [%s]",
				rule.key, truncate(string(raw), 64), strings.Join(rule.shown, ", ")))
		}
	}
	for _, rule := range r.forbid {
		raw, ok := p.lookup(rule.path)
		if !ok {
			continue
		}
		if len(rule.values) == 0 {
			problems = append(problems, fmt.Sprintf("forbidden key %q is present", rule.key))
		} else if rule.matches(raw) {
			problems = append(problems, fmt.Sprintf("key %q is %s, a forbidden value", rule.key, truncate(string(raw), 64)))
		}
	}
	return problems
}

func newValueRule(key string, path []string, values []any) (keyRule, error) {
	rule := keyRule{key: key, path: path}
	if len(values) == 0 {
		return rule, fmt.Errorf("key %q: no values given", key)
	}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return rule, fmt.Errorf("key %q: value %v: %w", key, v, err)
		}
		c, ok := canonicalScalar(b)
		if !ok || c == nil {
			return rule, fmt.Errorf("key %q: value %s: want a string, number or bool", key, b)
		}
		rule.values = append(rule.values, c)
		rule.shown = append(rule.shown, string(b))
	}
	return rule, nil
}

// matches reports whether raw equals one of the rule's values.
func (k keyRule) matches(raw json.RawMessage) bool {
	c, ok := canonicalScalar(raw)
	if !ok {
		return false
	}
	return slices.Contains(k.values, c)
}

// canonicalScalar decodes a JSON scalar to string, float64, bool or nil.
func canonicalScalar(raw []byte) (any, bool) {
	if len(raw) == 0 || raw[0] == '{' || raw[0] == '[' {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false
	}
	return v, true
}

func splitPath(key string) ([]string, error) {
	if key == "" {
		return nil, fmt.Errorf("empty key")
	}
	p := strings.Split(key, ".")
	for _, s := range p {
		if s == "" {
			return nil, fmt.Errorf("invalid key %q: empty path segment", key)
		}
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
