package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
)

// BaseURL is the prefix of every schema's $id: the schema of type T is
// BaseURL + T + ".json".
const BaseURL = "https://watershed.dev/schemas/"

// ErrUnknownType is returned (wrapped) for an event type the catalog has no
// schema for.
var ErrUnknownType = errors.New("event type not in the catalog")

// ErrInvalidPayload is what every *ValidationError unwraps to: the payload
// breaks its type's schema. It is permanent: the same bytes never become
// valid, so the event belongs in a dead-letter topic.
var ErrInvalidPayload = errors.New("payload does not match its schema")

// typePattern is the shape of an event type: <domain>.<noun>[.<verb or state>].v<N>.
var typePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$`)

// Info describes one event type of the catalog.
type Info struct {
	Type        string // "meter.reading.v1"
	SchemaID    string // the schema's $id, also the ce_dataschema of its events
	Title       string // short human name
	Description string
	Channel     string // default topic: "rapids" or "rivers" (x-watershed.channel)
	Key         string // payload property that is the Kafka record key (x-watershed.key)
	// Control marks an event that changes another service's behaviour
	// (x-watershed.control): consumers act on it only from an authorised,
	// signed publisher (see rivers' control-event authentication).
	Control bool
}

type entry struct {
	info   Info
	raw    []byte
	schema *jsonschema.Schema
	// typed, when set, is a hand-written validator that gives the schema's
	// exact verdict without the library's cost (meter.reading.v1).
	typed func(data []byte) *ValidationError
}

// Catalog is a compiled set of event schemas. It is immutable and safe for
// concurrent use.
type Catalog struct {
	entries map[string]*entry
	types   []string
	printer *message.Printer
}

var defaultCatalog = sync.OnceValues(func() (*Catalog, error) { return Load(contracts.SchemaFS()) })

// Default returns the catalog embedded in the contracts module, compiled on
// first use and shared afterwards. The embedded schemas are checked by this
// package's tests, so Default panics only on a broken build.
func Default() *Catalog {
	c, err := defaultCatalog()
	if err != nil {
		panic("catalog: embedded schemas do not compile: " + err.Error())
	}
	return c
}

// Load compiles the schemas at the root of fsys: one file "<type>.json" per
// event type and version (subdirectories such as history/ are not read).
// Every schema must declare JSON Schema 2020-12, have $id BaseURL+<type>.json
// and be a closed object (additionalProperties: false); $refs may point to
// other schemas of the catalog, never to the network. Formats (date-time)
// are asserted.
func Load(fsys fs.FS) (*Catalog, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("catalog: no <type>.json schema files")
	}
	c := &Catalog{entries: make(map[string]*entry, len(names)), printer: message.NewPrinter(language.English)}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	for _, name := range names {
		typ := strings.TrimSuffix(name, ".json")
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		info, err := checkSchemaFile(typ, raw)
		if err != nil {
			return nil, fmt.Errorf("catalog: %s: %w", name, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("catalog: %s: %w", name, err)
		}
		if err := comp.AddResource(info.SchemaID, doc); err != nil {
			return nil, fmt.Errorf("catalog: %s: %w", name, err)
		}
		e := &entry{info: info, raw: raw}
		if typ == events.TypeMeterReading && schemaSHA256(raw) == meterReadingSchemaSHA256 {
			e.typed = func(data []byte) *ValidationError {
				var s objScan
				return validateMeterReading(data, &s)
			}
		}
		if fs := flatSchemas[typ]; fs != nil && schemaSHA256(raw) == fs.sha256 {
			e.typed = fs.validate
		}
		c.entries[typ] = e
		c.types = append(c.types, typ)
	}
	slices.Sort(c.types)
	for _, typ := range c.types {
		e := c.entries[typ]
		if e.schema, err = comp.Compile(e.info.SchemaID); err != nil {
			return nil, fmt.Errorf("catalog: %s.json: %w", typ, err)
		}
	}
	return c, nil
}

// checkSchemaFile checks the catalog's rules for one schema document and
// returns what it says about its type.
func checkSchemaFile(typ string, raw []byte) (Info, error) {
	if !typePattern.MatchString(typ) {
		return Info{}, fmt.Errorf("file name %q is not <domain>.<noun>[.<state>].v<N>.json", typ+".json")
	}
	var s struct {
		Schema      string          `json:"$schema"`
		ID          string          `json:"$id"`
		Title       string          `json:"title"`
		Description string          `json:"description"`
		Type        string          `json:"type"`
		Additional  json.RawMessage `json:"additionalProperties"`
		Properties  map[string]any  `json:"properties"`
		Watershed   struct {
			Channel string `json:"channel"`
			Key     string `json:"key"`
			Control bool   `json:"control"`
		} `json:"x-watershed"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return Info{}, fmt.Errorf("not a JSON Schema object: %w", err)
	}
	want := BaseURL + typ + ".json"
	switch {
	case s.Schema != "https://json-schema.org/draft/2020-12/schema":
		return Info{}, fmt.Errorf(`"$schema" is %q, want "https://json-schema.org/draft/2020-12/schema"`, s.Schema)
	case s.ID != want:
		return Info{}, fmt.Errorf(`"$id" is %q, want %q`, s.ID, want)
	case s.Type != "object":
		return Info{}, fmt.Errorf(`"type" is %q, want "object"`, s.Type)
	case string(s.Additional) != "false":
		return Info{}, errors.New(`"additionalProperties" must be false: producer-side schemas are closed`)
	case s.Watershed.Channel == "":
		return Info{}, errors.New(`"x-watershed" must name the default "channel" (rapids or rivers)`)
	case s.Watershed.Key != "" && s.Properties[s.Watershed.Key] == nil:
		return Info{}, fmt.Errorf(`"x-watershed" key %q is not a property`, s.Watershed.Key)
	}
	return Info{Type: typ, SchemaID: s.ID, Title: s.Title, Description: s.Description,
		Channel: s.Watershed.Channel, Key: s.Watershed.Key, Control: s.Watershed.Control}, nil
}

// Types returns the catalog's event types, sorted. The slice is the caller's.
func (c *Catalog) Types() []string { return slices.Clone(c.types) }

// Has reports whether eventType is in the catalog.
func (c *Catalog) Has(eventType string) bool { return c.entries[eventType] != nil }

// Info describes eventType; the error wraps ErrUnknownType.
func (c *Catalog) Info(eventType string) (Info, error) {
	e, err := c.entry(eventType)
	if err != nil {
		return Info{}, err
	}
	return e.info, nil
}

// Schema returns a copy of eventType's schema document, or nil for a type
// outside the catalog.
func (c *Catalog) Schema(eventType string) []byte {
	if e := c.entries[eventType]; e != nil {
		return slices.Clone(e.raw)
	}
	return nil
}

func (c *Catalog) entry(eventType string) (*entry, error) {
	if e := c.entries[eventType]; e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("catalog: %q: %w", eventType, ErrUnknownType)
}

// Validate checks data (an event's JSON payload) against eventType's
// schema. It returns nil, a *ValidationError (errors.Is ErrInvalidPayload)
// when data is not JSON or breaks the schema, or an error wrapping
// ErrUnknownType.
//
// meter.reading.v1, the rapids' high-volume type, is checked by a
// hand-written validator with the JSON Schema library's exact verdict
// (proved by FuzzMeterReadingValidator) that does not allocate for a valid
// payload; so are usage.interval.v1 and feeder.load.v1 (FuzzTypedValidator).
// A typed validator is used only while the catalog's schema of its type is
// the one it implements. Every other type goes through the library.
func (c *Catalog) Validate(eventType string, data []byte) error {
	e, err := c.entry(eventType)
	if err != nil {
		return err
	}
	if e.typed != nil {
		if verr := e.typed(data); verr != nil {
			return verr
		}
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &ValidationError{Type: eventType, Violations: []Violation{{Message: "not valid JSON: " + err.Error()}}}
	}
	return c.check(e, doc)
}

// ValidateValue marshals v (a payload struct of package events, a map...)
// to JSON and validates it like Validate.
func (c *Catalog) ValidateValue(eventType string, v any) error {
	e, err := c.entry(eventType)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return &ValidationError{Type: eventType, Violations: []Violation{{Message: "cannot marshal to JSON: " + err.Error()}}}
	}
	if e.typed != nil {
		if verr := e.typed(raw); verr != nil {
			return verr
		}
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return &ValidationError{Type: eventType, Violations: []Violation{{Message: "not valid JSON: " + err.Error()}}}
	}
	return c.check(e, doc)
}

func (c *Catalog) check(e *entry, doc any) (err error) {
	defer func() {
		// The library panics on some numbers it cannot hold (a minimum
		// compared with 1e1000001): one bad payload must cost one dead
		// letter, never a crash.
		if r := recover(); r != nil {
			err = &ValidationError{Type: e.info.Type, Violations: []Violation{{Message: fmt.Sprintf("cannot be validated: %v", r)}}}
		}
	}()
	err = e.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &ValidationError{Type: e.info.Type, Violations: []Violation{{Message: err.Error()}}}
	}
	out := &ValidationError{Type: e.info.Type}
	c.leaves(ve, out)
	slices.SortStableFunc(out.Violations, func(a, b Violation) int { return strings.Compare(a.Path, b.Path) })
	out.Violations = slices.Compact(out.Violations)
	return out
}

// leaves collects the innermost failures of a validation tree: they name
// the deepest failing value and the keyword it broke.
func (c *Catalog) leaves(ve *jsonschema.ValidationError, out *ValidationError) {
	if len(ve.Causes) == 0 {
		out.Violations = append(out.Violations, Violation{
			Path:    pointer(ve.InstanceLocation),
			Message: ve.ErrorKind.LocalizedString(c.printer),
		})
		return
	}
	for _, cause := range ve.Causes {
		c.leaves(cause, out)
	}
}

// pointer renders an instance location as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// Violation is one way a payload breaks its schema.
type Violation struct {
	// Path is the JSON pointer of the failing value in the payload: "" for
	// the payload itself (a missing or unknown property), "/energy_kwh_total",
	// "/flags/0".
	Path string
	// Message says what is wrong there, e.g. "minimum: got -1, want 0".
	Message string
}

// ValidationError reports every way a payload breaks its event type's
// schema. It unwraps to ErrInvalidPayload.
type ValidationError struct {
	Type       string      // event type, "meter.reading.v1"
	Violations []Violation // at least one, sorted by Path
}

// Path is the JSON pointer of the first violation.
func (e *ValidationError) Path() string {
	if len(e.Violations) == 0 {
		return ""
	}
	return e.Violations[0].Path
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Type)
	b.WriteString(": invalid payload: ")
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString("at '")
		b.WriteString(v.Path)
		b.WriteString("': ")
		b.WriteString(v.Message)
	}
	return b.String()
}

func (e *ValidationError) Unwrap() error { return ErrInvalidPayload }
