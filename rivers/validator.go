package rivers

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

// ErrUnknownType is what a [Validator] returns (wrapped) for an event type
// it has no schema for. It is the catalog's sentinel.
var ErrUnknownType = catalog.ErrUnknownType

// Validator checks event payloads against their type's schema. The default
// is the contracts catalog (catalog.Default()); combine it with a service's
// own schemas with [Validators].
//
// Validate returns nil for a valid payload, an error wrapping
// [ErrUnknownType] when it has no schema for typ, and any other error when
// data breaks the schema. It is safe for concurrent use.
//
// Publishing refuses a type no validator knows, and a payload that breaks
// its schema ([ErrInvalidEvent]): a producer bug must not pollute the river.
// Consuming is tolerant: a type no validator knows is accepted, and so are
// members the schema does not list (a newer, compatible producer may add
// them); anything else that breaks the schema is dead-lettered.
type Validator interface {
	Validate(typ string, data []byte) error
}

// TypeDescriber is a Validator that also tells about a type: its default
// topic and key (the catalog's x-watershed) and its schema id, which
// Publish uses for the record's topic, key and ce_dataschema. The catalog's
// validator implements it.
type TypeDescriber interface {
	Info(typ string) (catalog.Info, error)
}

// TypeLister is a Validator that can list its types: heartbeats expand
// river patterns such as "system.*" with them, and control-event checks
// find the catalog's control types. The catalog's validator implements it.
type TypeLister interface {
	Types() []string
}

// Validators returns a Validator that asks vs in order: the first that
// knows the type decides. Its Info and Types combine theirs.
func Validators(vs ...Validator) Validator { return validators(vs) }

type validators []Validator

func (vs validators) Validate(typ string, data []byte) error {
	for _, v := range vs {
		if err := v.Validate(typ, data); !errors.Is(err, ErrUnknownType) {
			return err
		}
	}
	return &unknownTypeError{typ: typ}
}

func (vs validators) Info(typ string) (catalog.Info, error) {
	for _, v := range vs {
		if ti, ok := v.(TypeDescriber); ok {
			if info, err := ti.Info(typ); err == nil {
				return info, nil
			}
		}
	}
	return catalog.Info{}, &unknownTypeError{typ: typ}
}

func (vs validators) Types() []string {
	var out []string
	for _, v := range vs {
		if tl, ok := v.(TypeLister); ok {
			out = append(out, tl.Types()...)
		}
	}
	return out
}

type unknownTypeError struct{ typ string }

func (e *unknownTypeError) Error() string { return "rivers: no schema for event type " + e.typ }
func (e *unknownTypeError) Unwrap() error { return ErrUnknownType }

// tolerable reports whether a consumer-side validation error only lists
// members the schema does not declare: the tolerant reader accepts those.
func tolerable(err error) bool {
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) == 0 {
		return false
	}
	for _, v := range ve.Violations {
		if !strings.HasPrefix(v.Message, "additional properties ") {
			return false
		}
	}
	return true
}

// schemaSource is a Validator that can show a type's JSON Schema (the
// catalog can).
type schemaSource interface {
	Schema(typ string) []byte
}

func (vs validators) Schema(typ string) []byte {
	for _, v := range vs {
		if ss, ok := v.(schemaSource); ok {
			if b := ss.Schema(typ); b != nil {
				return b
			}
		}
	}
	return nil
}

// provenKeys returns the top-level keys that every payload of typ valid
// against v's schema carries, not null: the schema requires them and their
// type excludes null. Nil when v cannot show the schema.
func provenKeys(v Validator, typ string) map[string]bool {
	ss, ok := v.(schemaSource)
	if !ok {
		return nil
	}
	raw := ss.Schema(typ)
	if raw == nil {
		return nil
	}
	var schema struct {
		Type       any                        `json:"type"`
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(raw, &schema) != nil || schema.Type != "object" {
		return nil
	}
	out := map[string]bool{}
	for _, k := range schema.Required {
		var prop struct {
			Type any `json:"type"`
		}
		if json.Unmarshal(schema.Properties[k], &prop) != nil {
			continue
		}
		switch t := prop.Type.(type) {
		case string:
			out[k] = t != "null"
		case []any:
			out[k] = !slices.Contains(t, any("null"))
		}
	}
	return out
}

// rulesProven reports whether a payload that passed v's schema for every
// type of r passes r's key rules too: r only requires presence of keys the
// schemas prove present. Such rivers skip the payload scan.
func rulesProven(v Validator, r *River) bool {
	if len(r.prefixes) > 0 || len(r.forbid) > 0 {
		return false
	}
	for _, typ := range r.types {
		proven := provenKeys(v, typ)
		for _, rule := range r.require {
			if len(rule.values) > 0 || len(rule.path) != 1 || !proven[rule.key] {
				return false
			}
		}
	}
	return true
}
