package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"unicode"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

// ErrNotInCatalog is returned (wrapped) for a --consumes or --publishes
// type the event catalog does not have.
var ErrNotInCatalog = errors.New("not in the event catalog")

// Event is what the typed skeleton knows of one event type, from the
// catalog (contracts/catalog) and its Go payload (contracts/events).
type Event struct {
	Type        string   // usage.interval.v1
	Title       string   // Usage interval
	Description string   // the schema's
	GoType      string   // UsageInterval: its payload type in contracts/events
	Const       string   // TypeUsageInterval
	Channel     string   // rivers or rapids: its topic
	Topic       string   // Rivers or Rapids: the rivers.Topic constant of Channel
	Key         string   // meter_id: the payload property that is the Kafka key, or ""
	KeyField    string   // MeterID: the Go field of Key, or ""
	Required    []string // properties the schema requires
	Optional    []string // the other properties
	Example     string   // a valid payload, contracts/examples/<type>.json
	River       string   // usage-interval: the name of the river that reads it
	Handler     string   // usageInterval: the handler method
}

// Mapping is the stub that derives a published event from a consumed one.
type Mapping struct {
	From, To *Event
	Func     string   // usageAlertFrom: func(events.UsageInterval) (events.UsageAlert, bool)
	Copies   []string // Go fields both payloads have (same JSON name and type), copied
	Shared   []string // their JSON names
	Missing  []string // properties To requires that no copy sets
}

// Verdict says what the stub returns, for its comment.
func (m Mapping) Verdict() string {
	if len(m.Missing) > 0 {
		return fmt.Sprintf("It returns false, so nothing is published, until it also sets what %s requires and %s does not carry: %s (contracts/schemas/%s.json says what each means).",
			m.To.Type, m.From.Type, strings.Join(m.Missing, ", "), m.To.Type)
	}
	return fmt.Sprintf("That sets every property %s requires, so it publishes one for every %s: decide when the service should.", m.To.Type, m.From.Type)
}

// lookup describes typ, or says which file to add.
func lookup(typ string) (*Event, error) {
	cat := catalog.Default()
	info, err := cat.Info(typ)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: add its schema, contracts/schemas/%s.json, with an example in contracts/examples/%s.json, run go generate ./contracts/..., then rerun this",
			typ, ErrNotInCatalog, typ, typ)
	}
	p, ok := events.NewPayload(typ)
	if !ok {
		return nil, fmt.Errorf("%s has a schema but no Go payload in contracts/events: run go generate ./contracts/..., then rerun this", typ)
	}
	rt := reflect.TypeOf(p).Elem()
	e := &Event{
		Type: typ, Title: info.Title, Description: info.Description,
		GoType: rt.Name(), Const: "Type" + rt.Name(),
		Channel: info.Channel, Topic: exported(info.Channel), Key: info.Key,
		River: kebab(rt.Name()), Handler: unexported(rt.Name()),
	}
	if e.Topic != "Rivers" && e.Topic != "Rapids" {
		return nil, fmt.Errorf("%s: channel %q is neither rivers nor rapids", typ, info.Channel)
	}
	var schema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(cat.Schema(typ), &schema); err != nil {
		return nil, fmt.Errorf("%s: schema: %w", typ, err)
	}
	e.Required = schema.Required
	for p := range schema.Properties {
		if !slices.Contains(schema.Required, p) {
			e.Optional = append(e.Optional, p)
		}
	}
	slices.Sort(e.Optional)
	if e.Key != "" {
		if f, ok := fieldByJSON(rt, e.Key); ok {
			e.KeyField = f.Name
		}
	}
	ex, err := fs.ReadFile(contracts.ExampleFS(), typ+".json")
	if err != nil {
		return nil, fmt.Errorf("%s has no example: add contracts/examples/%s.json", typ, typ)
	}
	e.Example = strings.TrimSpace(string(ex))
	if strings.Contains(e.Example, "`") {
		return nil, fmt.Errorf("contracts/examples/%s.json holds a backquote, which the generated test cannot quote", typ)
	}
	return e, nil
}

// mapping builds the stub that derives to from from: it copies the fields
// both payloads have.
func mapping(from, to *Event) Mapping {
	m := Mapping{From: from, To: to, Func: unexported(to.GoType) + "From" + from.GoType}
	fp, _ := events.NewPayload(from.Type)
	tp, _ := events.NewPayload(to.Type)
	ft, tt := reflect.TypeOf(fp).Elem(), reflect.TypeOf(tp).Elem()
	set := map[string]bool{}
	for i := range tt.NumField() {
		f := tt.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		if g, ok := fieldByJSON(ft, name); ok && g.Type == f.Type && g.Name == f.Name {
			m.Copies = append(m.Copies, f.Name)
			m.Shared = append(m.Shared, name)
			set[name] = true
		}
	}
	for _, r := range to.Required {
		if !set[r] {
			m.Missing = append(m.Missing, r)
		}
	}
	return m
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

func fieldByJSON(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func exported(s string) string   { return strings.ToUpper(s[:1]) + s[1:] }
func unexported(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// kebab turns UsageInterval into usage-interval.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
