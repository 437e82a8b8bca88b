package rivers

import (
	"errors"
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

// typeInfo is what a Validator may also tell about a type: its default
// topic and key (the catalog's x-watershed), and its schema id.
type typeInfo interface {
	Info(typ string) (catalog.Info, error)
}

// typeLister is a Validator that can list its types (to expand river
// patterns such as "system.*" in heartbeats).
type typeLister interface {
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
		if ti, ok := v.(typeInfo); ok {
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
		if tl, ok := v.(typeLister); ok {
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
