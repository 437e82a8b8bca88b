package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// ErrIncompatible is what every *CompatibilityError unwraps to.
var ErrIncompatible = errors.New("schema change is not backward compatible")

// SchemaDoc is one JSON Schema document and the name to report it by (a
// file name, "revision 3").
type SchemaDoc struct {
	Name string
	JSON []byte
}

// Rules a schema change can break. Each names the kind of narrowing, after
// Confluent Schema Registry's JSON Schema rules for closed content models.
const (
	RuleTypeNarrowed          = "TYPE_NARROWED"           // a type was removed or constrained ("number" → "integer")
	RuleEnumNarrowed          = "ENUM_NARROWED"           // an enum lost values, or an enum or const was added or changed
	RuleRequiredPropertyAdded = "REQUIRED_PROPERTY_ADDED" // a property became required
	RulePropertyRemoved       = "PROPERTY_REMOVED"        // a property was removed from a closed schema
	RulePropertyAddedToOpen   = "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
	RuleAdditionalNarrowed    = "ADDITIONAL_PROPERTIES_NARROWED" // an open schema was closed or its additionalProperties constrained
	RuleItemsNarrowed         = "ITEMS_NARROWED"                 // array items can no longer be anything they could be
	RuleRangeNarrowed         = "RANGE_NARROWED"                 // minimum/maximum (exclusive or not) tightened or added
	RuleLengthNarrowed        = "LENGTH_NARROWED"                // minLength/maxLength, minItems/maxItems, minProperties/maxProperties tightened
	RuleUniqueItemsAdded      = "UNIQUE_ITEMS_ADDED"             // uniqueItems became true
	RulePatternChanged        = "PATTERN_CHANGED"                // pattern added or changed (regular expressions are not compared)
	RuleFormatChanged         = "FORMAT_CHANGED"                 // format added or changed (formats are asserted)
	RuleKeywordChanged        = "KEYWORD_CHANGED"                // any other assertion keyword added or changed ($ref, oneOf, multipleOf...)
	RuleSchemaFalse           = "SCHEMA_NARROWED_TO_FALSE"       // a subschema became false
)

// Incompatibility is one way a newer schema rejects data an older one accepted.
type Incompatibility struct {
	Against string // name of the older schema
	// Path is the instance location the change affects, as a JSON pointer
	// with "*" for any array index or property: "/voltage_v", "/flags/*",
	// "" for the payload itself.
	Path    string
	Rule    string // one of the Rule* constants
	Message string // what changed and why old data would be rejected
}

func (i Incompatibility) String() string {
	return fmt.Sprintf("against %s at '%s': %s: %s", i.Against, i.Path, i.Rule, i.Message)
}

// CompatibilityError lists every incompatibility of a newer schema with its
// older revisions. It unwraps to ErrIncompatible.
type CompatibilityError struct {
	Schema string // name of the newer schema
	Issues []Incompatibility
}

func (e *CompatibilityError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not BACKWARD_TRANSITIVE compatible (a breaking change needs a new type version, e.g. .v2)", e.Schema)
	for _, i := range e.Issues {
		b.WriteString("\n  ")
		b.WriteString(i.String())
	}
	return b.String()
}

func (e *CompatibilityError) Unwrap() error { return ErrIncompatible }

// CheckCompatibility checks that newer is BACKWARD_TRANSITIVE compatible with
// every schema in older: a consumer validating with newer accepts every
// payload that was valid under any of them. It returns nil, a
// *CompatibilityError naming each property and rule, or an error for a
// document that is not JSON.
//
// The check proves, keyword by keyword, that newer accepts a superset of
// what each older schema accepts; where it cannot prove it, it reports an
// incompatibility rather than guess:
//
//   - adding an optional property is compatible when the older schema was
//     closed (additionalProperties: false); adding one to an open schema is
//     not, since old data may carry that name with any value;
//   - making a property required, new or existing, is not (a default does not
//     help: validation does not apply defaults);
//   - removing a property from a closed schema is not: old data carrying it
//     would be rejected; closing an open schema is not; opening one is;
//   - narrowing is not: removing a type or enum value, adding an enum, const,
//     pattern or format, tightening minimum/maximum, lengths or item counts,
//     requiring unique items; widening ("integer" → "number", more enum
//     values, looser bounds, dropping a keyword) is;
//   - any other assertion keyword ($ref to another document, oneOf, allOf,
//     multipleOf, ...) must be unchanged or removed. Local $refs ("#/$defs/x")
//     are followed. Annotations (title, description, examples, default,
//     x-*) never matter.
func CheckCompatibility(older []SchemaDoc, newer SchemaDoc) error {
	newRoot, err := decodeSchema(newer)
	if err != nil {
		return err
	}
	out := &CompatibilityError{Schema: newer.Name}
	for _, o := range older {
		oldRoot, err := decodeSchema(o)
		if err != nil {
			return err
		}
		c := &checker{against: o.Name, oldRoot: oldRoot, newRoot: newRoot, inRef: map[[2]string]bool{}}
		c.schema("", oldRoot, newRoot, RuleSchemaFalse)
		out.Issues = append(out.Issues, c.issues...)
	}
	if len(out.Issues) > 0 {
		return out
	}
	return nil
}

func decodeSchema(d SchemaDoc) (any, error) {
	var v any
	if err := json.Unmarshal(d.JSON, &v); err != nil {
		return nil, fmt.Errorf("schema %s: not valid JSON: %w", d.Name, err)
	}
	switch v.(type) {
	case bool, map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("schema %s: not a JSON Schema (want an object or a boolean)", d.Name)
}

type checker struct {
	against          string
	oldRoot, newRoot any
	inRef            map[[2]string]bool // local $ref pairs being compared (cycles)
	issues           []Incompatibility
}

func (c *checker) add(path, rule, format string, args ...any) {
	c.issues = append(c.issues, Incompatibility{Against: c.against, Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// annotation keywords never change what validates.
func annotation(k string) bool {
	switch k {
	case "$schema", "$id", "$anchor", "$comment", "$defs", "definitions", "title", "description",
		"examples", "default", "deprecated", "readOnly", "writeOnly", "$vocabulary":
		return true
	}
	return strings.HasPrefix(k, "x-")
}

// handled keywords are compared by meaning; every other assertion keyword
// must be unchanged.
var handled = map[string]bool{
	"type": true, "enum": true, "const": true,
	"properties": true, "required": true, "additionalProperties": true, "minProperties": true, "maxProperties": true,
	"items": true, "minItems": true, "maxItems": true, "uniqueItems": true,
	"minLength": true, "maxLength": true, "pattern": true, "format": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
}

// schema records how new fails to accept everything old accepts at path.
// falseRule is the rule to report when new is the false schema.
func (c *checker) schema(path string, old, new any, falseRule string) {
	if b, ok := old.(bool); ok && !b {
		return // old accepted nothing there
	}
	if b, ok := new.(bool); ok {
		if !b {
			c.add(path, falseRule, "nothing is accepted any more where data was accepted before")
		}
		return
	}
	om, _ := old.(map[string]any) // old == true is the empty schema
	nm, _ := new.(map[string]any)
	om, nm, stop := c.followRefs(path, om, nm)
	if stop {
		return
	}
	oldTypes := typeSet(om["type"])

	for _, k := range sortedKeys(nm) {
		if annotation(k) || handled[k] {
			continue
		}
		if ov, ok := om[k]; !ok || !reflect.DeepEqual(ov, nm[k]) {
			c.add(path, RuleKeywordChanged, "keyword %q was added or changed; the check cannot prove old data still validates", k)
		}
	}
	c.types(path, oldTypes, typeSet(nm["type"]))
	c.enum(path, om, nm)
	if allows(oldTypes, "object") {
		c.object(path, om, nm)
	}
	if allows(oldTypes, "array") {
		c.array(path, om, nm)
	}
	if allows(oldTypes, "string") {
		c.minimumOf(path, "minLength", om, nm)
		c.maximumOf(path, "maxLength", om, nm)
		if p, ok := nm["pattern"]; ok && !reflect.DeepEqual(p, om["pattern"]) {
			c.add(path, RulePatternChanged, "pattern %v was added or changed (was %v): old strings may not match it", p, orNone(om["pattern"]))
		}
		if f, ok := nm["format"]; ok && !reflect.DeepEqual(f, om["format"]) {
			c.add(path, RuleFormatChanged, "format %v was added or changed (was %v): old strings may not be valid %v", f, orNone(om["format"]), f)
		}
	}
	if allows(oldTypes, "number") || allows(oldTypes, "integer") {
		c.bounds(path, om, nm)
	}
}

// followRefs replaces local $refs ("#/...") by what they point to, merged
// with their sibling keywords. A sibling that contradicts the target on the
// new side cannot be merged soundly and is reported.
func (c *checker) followRefs(path string, om, nm map[string]any) (map[string]any, map[string]any, bool) {
	oref, _ := om["$ref"].(string)
	nref, _ := nm["$ref"].(string)
	if strings.HasPrefix(oref, "#") && strings.HasPrefix(nref, "#") {
		pair := [2]string{oref, nref}
		if c.inRef[pair] {
			return nil, nil, true // already being compared further up: assume it holds
		}
		c.inRef[pair] = true
		defer delete(c.inRef, pair)
	}
	var ok bool
	if strings.HasPrefix(oref, "#") {
		if om, ok = merge(om, resolve(c.oldRoot, oref)); !ok {
			om = without(om, "$ref") // conservative on the old side: fewer constraints
		}
	}
	if strings.HasPrefix(nref, "#") {
		target := resolve(c.newRoot, nref)
		if target == nil {
			c.add(path, RuleKeywordChanged, "$ref %q does not resolve", nref)
			return nil, nil, true
		}
		if nm, ok = merge(nm, target); !ok {
			c.add(path, RuleKeywordChanged, "$ref %q has sibling keywords that override its target; cannot compare", nref)
			return nil, nil, true
		}
	}
	return om, nm, false
}

// merge returns the keywords of s (minus $ref) and of target together;
// ok is false when both set one keyword to different values.
func merge(s map[string]any, target any) (map[string]any, bool) {
	tm, isMap := target.(map[string]any)
	if !isMap {
		return s, false
	}
	out := make(map[string]any, len(s)+len(tm))
	ok := true
	for k, v := range tm {
		out[k] = v
	}
	for k, v := range s {
		if k == "$ref" {
			continue
		}
		if tv, dup := out[k]; dup && !annotation(k) && !reflect.DeepEqual(tv, v) {
			ok = false
		}
		out[k] = v
	}
	return out, ok
}

func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// resolve follows a local JSON pointer reference ("#/$defs/x") in root.
func resolve(root any, ref string) any {
	p := strings.TrimPrefix(ref, "#")
	if p == "" {
		return root
	}
	cur := root
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch v := cur.(type) {
		case map[string]any:
			cur = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	return cur
}

// typeSet returns the JSON types a "type" keyword allows; nil means any.
func typeSet(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func allows(types []string, t string) bool {
	if types == nil {
		return true
	}
	return slices.Contains(types, t) || (t == "integer" && slices.Contains(types, "number"))
}

func (c *checker) types(path string, old, new []string) {
	if new == nil {
		return
	}
	if old == nil {
		c.add(path, RuleTypeNarrowed, "type %v was added where any type was accepted", new)
		return
	}
	var lost []string
	for _, t := range old {
		if !allows(new, t) {
			lost = append(lost, t)
		}
	}
	if len(lost) > 0 {
		c.add(path, RuleTypeNarrowed, "type narrowed from %v to %v: data written as %s would be rejected", old, new, strings.Join(lost, " or "))
	}
}

func (c *checker) enum(path string, om, nm map[string]any) {
	oldVals, oldKnown := values(om)
	if ne, ok := nm["enum"].([]any); ok {
		if !oldKnown {
			c.add(path, RuleEnumNarrowed, "enum %v was added where any value was accepted", jsonText(ne))
			return
		}
		var lost []any
		for _, v := range oldVals {
			if !containsValue(ne, v) {
				lost = append(lost, v)
			}
		}
		if len(lost) > 0 {
			c.add(path, RuleEnumNarrowed, "enum lost %s: data written with it would be rejected", jsonText(lost))
		}
	}
	if nc, ok := nm["const"]; ok {
		if !oldKnown || len(oldVals) != 1 || !reflect.DeepEqual(oldVals[0], nc) {
			c.add(path, RuleEnumNarrowed, "const %s was added or changed", jsonText(nc))
		}
	}
}

// values returns the values an old schema restricts to (const or enum).
func values(m map[string]any) ([]any, bool) {
	if v, ok := m["const"]; ok {
		return []any{v}, true
	}
	if e, ok := m["enum"].([]any); ok {
		return e, true
	}
	return nil, false
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, v) {
			return true
		}
	}
	return false
}

func (c *checker) object(path string, om, nm map[string]any) {
	oldProps, _ := om["properties"].(map[string]any)
	newProps, _ := nm["properties"].(map[string]any)
	oldAP, hasOldAP := om["additionalProperties"]
	if !hasOldAP {
		oldAP = true
	}
	newAP, hasNewAP := nm["additionalProperties"]
	if !hasNewAP {
		newAP = true
	}
	names := sortedKeys(oldProps)
	for _, k := range sortedKeys(newProps) {
		if _, dup := oldProps[k]; !dup {
			names = append(names, k)
		}
	}
	for _, name := range names {
		sub := path + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
		o, inOld := oldProps[name]
		if !inOld {
			o = oldAP
		}
		n, inNew := newProps[name]
		switch {
		case isFalse(o):
			continue // old data never carried it
		case !inNew && isFalse(newAP):
			c.add(sub, RulePropertyRemoved, "property %q was removed but the schema is closed (additionalProperties: false): data written with it would be rejected; keep it, deprecated, instead", name)
		case !inNew:
			c.schema(sub, o, newAP, RulePropertyRemoved)
		case !inOld:
			before := len(c.issues)
			c.schema(sub, o, n, RulePropertyAddedToOpen)
			if len(c.issues) > before {
				c.issues = c.issues[:before]
				c.add(sub, RulePropertyAddedToOpen, "property %q was added, but the older schema was open (additionalProperties not false): old data may carry %q with values the new definition rejects", name, name)
			}
		default:
			c.schema(sub, o, n, RuleSchemaFalse)
		}
	}
	if isFalse(newAP) && !isFalse(oldAP) {
		c.add(path, RuleAdditionalNarrowed, "additionalProperties became false: the older schema accepted properties it does not list, the new one rejects them")
	} else {
		c.schema(path+"/*", oldAP, newAP, RuleAdditionalNarrowed)
	}

	oldReq := stringSet(om["required"])
	for _, r := range sortedKeys(stringSet(nm["required"])) {
		if oldReq[r] {
			continue
		}
		what := fmt.Sprintf("required property %q was added", r)
		if _, ok := oldProps[r]; ok {
			what = fmt.Sprintf("property %q became required", r)
		}
		note := ""
		if ps, ok := newProps[r].(map[string]any); ok && ps["default"] != nil {
			note = " (its default does not help: validation does not apply defaults)"
		}
		c.add(path+"/"+r, RuleRequiredPropertyAdded, "%s: data written without it would be rejected%s", what, note)
	}
	c.minimumOf(path, "minProperties", om, nm)
	c.maximumOf(path, "maxProperties", om, nm)
}

func (c *checker) array(path string, om, nm map[string]any) {
	oi, ok := om["items"]
	if !ok {
		oi = true
	}
	ni, ok := nm["items"]
	if !ok {
		ni = true
	}
	c.schema(path+"/*", oi, ni, RuleItemsNarrowed)
	c.minimumOf(path, "minItems", om, nm)
	c.maximumOf(path, "maxItems", om, nm)
	if u, _ := nm["uniqueItems"].(bool); u {
		if ou, _ := om["uniqueItems"].(bool); !ou {
			c.add(path, RuleUniqueItemsAdded, "uniqueItems became true: old arrays with repeated items would be rejected")
		}
	}
}

// minimumOf checks a lower count bound (minLength, minItems, minProperties):
// absent means 0; new must not be greater.
func (c *checker) minimumOf(path, kw string, om, nm map[string]any) {
	n, ok := number(nm[kw])
	if !ok {
		return
	}
	o, _ := number(om[kw])
	if n > o {
		c.add(path, RuleLengthNarrowed, "%s raised from %v to %v", kw, o, n)
	}
}

// maximumOf checks an upper count bound (maxLength, maxItems,
// maxProperties): absent means unbounded; new must not be smaller.
func (c *checker) maximumOf(path, kw string, om, nm map[string]any) {
	n, ok := number(nm[kw])
	if !ok {
		return
	}
	if o, ok := number(om[kw]); !ok {
		c.add(path, RuleLengthNarrowed, "%s %v was added where there was no limit", kw, n)
	} else if n < o {
		c.add(path, RuleLengthNarrowed, "%s lowered from %v to %v", kw, o, n)
	}
}

// bound is one end of a numeric range.
type bound struct {
	v         float64
	exclusive bool
	set       bool
}

// lower returns the tighter of minimum and exclusiveMinimum.
func lower(m map[string]any) bound {
	var b bound
	if v, ok := number(m["minimum"]); ok {
		b = bound{v: v, set: true}
	}
	if v, ok := number(m["exclusiveMinimum"]); ok && (!b.set || v >= b.v) {
		b = bound{v: v, exclusive: true, set: true}
	}
	return b
}

// upper returns the tighter of maximum and exclusiveMaximum.
func upper(m map[string]any) bound {
	var b bound
	if v, ok := number(m["maximum"]); ok {
		b = bound{v: v, set: true}
	}
	if v, ok := number(m["exclusiveMaximum"]); ok && (!b.set || v <= b.v) {
		b = bound{v: v, exclusive: true, set: true}
	}
	return b
}

func (b bound) String() string {
	if !b.set {
		return "none"
	}
	if b.exclusive {
		return "exclusive " + strconv.FormatFloat(b.v, 'g', -1, 64)
	}
	return strconv.FormatFloat(b.v, 'g', -1, 64)
}

func (c *checker) bounds(path string, om, nm map[string]any) {
	if ol, nl := lower(om), lower(nm); nl.set {
		if !ol.set || ol.v < nl.v || (ol.v == nl.v && nl.exclusive && !ol.exclusive) {
			c.add(path, RuleRangeNarrowed, "lower bound tightened from %v to %v: smaller values written before would be rejected", ol, nl)
		}
	}
	if ou, nu := upper(om), upper(nm); nu.set {
		if !ou.set || ou.v > nu.v || (ou.v == nu.v && nu.exclusive && !ou.exclusive) {
			c.add(path, RuleRangeNarrowed, "upper bound tightened from %v to %v: larger values written before would be rejected", ou, nu)
		}
	}
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func isFalse(v any) bool {
	b, ok := v.(bool)
	return ok && !b
}

func stringSet(v any) map[string]bool {
	list, _ := v.([]any)
	out := make(map[string]bool, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out[s] = true
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func orNone(v any) any {
	if v == nil {
		return "none"
	}
	return v
}
