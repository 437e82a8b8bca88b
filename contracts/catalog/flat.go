package catalog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/watershed-grid/watershed/contracts/events"
)

// A flatSchema is a closed object schema whose properties are scalars, as
// usage.interval.v1 and feeder.load.v1 are, written out by hand from its
// JSON file for a typed validator with the JSON Schema library's verdict
// (the same scanner and checks as meter.reading.v1). It is used only for
// the schema bytes whose SHA-256 it pins.
type flatSchema struct {
	typ      string
	sha256   string
	props    []flatProp
	required uint32 // bit i: props[i] is required
	names    []string
}

// flatProp is one property: its JSON Schema type and keywords.
type flatProp struct {
	name           string
	typ            string // "string", "number", "integer", "boolean"
	minLen, maxLen int    // strings; maxLen 0: no bounds
	enum           []string
	dateTime       bool
	hasMin         bool // numbers and integers: minimum
	min            int64
}

func newFlatSchema(typ, sha string, required []string, props ...flatProp) *flatSchema {
	fs := &flatSchema{typ: typ, sha256: sha, props: props}
	for i, p := range props {
		fs.names = append(fs.names, p.name)
		for _, r := range required {
			if r == p.name {
				fs.required |= 1 << i
			}
		}
	}
	if len(props) > maxProps {
		panic("catalog: flat schema " + typ + " has too many properties")
	}
	return fs
}

func idProp(name string) flatProp {
	return flatProp{name: name, typ: "string", minLen: 1, maxLen: 128}
}

// flatSchemas are the typed validators besides meter.reading.v1's, by type.
var flatSchemas = map[string]*flatSchema{
	events.TypeUsageInterval: newFlatSchema(events.TypeUsageInterval,
		"fe83e38582b4bcba9fb74bc7cd04e6fd5bf32707edbddf6be1ea70a4a5a1e755",
		[]string{"meter_id", "transformer_id", "feeder_id", "period", "start", "end", "energy_kwh", "reads", "reads_expected"},
		idProp("meter_id"), idProp("transformer_id"), idProp("feeder_id"),
		flatProp{name: "period", typ: "string", enum: []string{"hour", "day"}},
		flatProp{name: "start", typ: "string", dateTime: true},
		flatProp{name: "end", typ: "string", dateTime: true},
		flatProp{name: "energy_kwh", typ: "number", hasMin: true},
		flatProp{name: "reads", typ: "integer", hasMin: true},
		flatProp{name: "reads_expected", typ: "integer", hasMin: true, min: 1},
		flatProp{name: "estimated", typ: "boolean"},
		flatProp{name: "max_demand_kw", typ: "number"},
		flatProp{name: "register_start_kwh", typ: "number", hasMin: true},
		flatProp{name: "register_end_kwh", typ: "number", hasMin: true},
	),
	events.TypeFeederLoad: newFlatSchema(events.TypeFeederLoad,
		"eaf897c1da6eeae1fd04e9e823670959cebe4a81f2f6c09425a9ab7781e6221c",
		[]string{"level", "id", "feeder_id", "start", "end", "load_kw", "energy_kwh", "meters_reporting", "meters_expected"},
		flatProp{name: "level", typ: "string", enum: []string{"transformer", "feeder"}},
		idProp("id"), idProp("feeder_id"),
		flatProp{name: "start", typ: "string", dateTime: true},
		flatProp{name: "end", typ: "string", dateTime: true},
		flatProp{name: "load_kw", typ: "number"},
		flatProp{name: "peak_load_kw", typ: "number"},
		flatProp{name: "energy_kwh", typ: "number", hasMin: true},
		flatProp{name: "voltage_min_v", typ: "number", hasMin: true},
		flatProp{name: "voltage_max_v", typ: "number", hasMin: true},
		flatProp{name: "voltage_avg_v", typ: "number", hasMin: true},
		flatProp{name: "meters_reporting", typ: "integer", hasMin: true},
		flatProp{name: "meters_expected", typ: "integer", hasMin: true},
	),
}

// validate checks data against fs with the JSON Schema library's verdict.
// It allocates only for an invalid payload.
func (fs *flatSchema) validate(data []byte) *ValidationError {
	var out *ValidationError
	add := func(path, msg string) {
		if out == nil {
			out = &ValidationError{Type: fs.typ}
		}
		out.Violations = append(out.Violations, Violation{Path: path, Message: msg})
	}
	var s objScan
	if serr := s.scan(data, fs.names); serr != nil {
		add("", fmt.Sprintf("not valid JSON: %s (offset %d)", serr.msg, serr.off))
		return out
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		add("", "got "+kindName(kindOf(data[i]))+", want object")
		return out
	}
	if missing := fs.required &^ s.seen; missing != 0 {
		var names []string
		for p := range fs.props {
			if missing&(1<<p) != 0 {
				names = append(names, "'"+fs.props[p].name+"'")
			}
		}
		if len(names) == 1 {
			add("", "missing property "+names[0])
		} else {
			add("", "missing properties "+strings.Join(names, ", "))
		}
	}
	if len(s.extra) > 0 {
		names := make([]string, len(s.extra))
		for i, k := range s.extra {
			q := strconv.Quote(k)
			names[i] = "'" + q[1:len(q)-1] + "'"
		}
		add("", "additional properties "+strings.Join(names, ", ")+" not allowed")
	}
	for p := range fs.props {
		if s.seen&(1<<p) == 0 {
			continue
		}
		if msg := fs.props[p].check(data[s.start[p]:s.end[p]], s.kind[p], s.plain[p]); msg != "" {
			add("/"+fs.props[p].name, msg)
		}
	}
	if out != nil && len(out.Violations) > 1 {
		sortViolations(out)
	}
	return out
}

// check returns what is wrong with one property's value raw, or "".
func (p *flatProp) check(raw []byte, k byte, plain bool) string {
	switch p.typ {
	case "string":
		if k != kindString {
			return "got " + kindName(k) + ", want string"
		}
		if p.maxLen > 0 {
			if msg := checkString(k, raw, plain, p.minLen, p.maxLen); msg != "" {
				return msg
			}
		}
		var buf [64]byte
		str := raw[1 : len(raw)-1]
		if !plain && (p.enum != nil || p.dateTime) {
			str = appendUnquoted(buf[:0], str)
		}
		if p.enum != nil {
			for _, e := range p.enum {
				if e == string(str) {
					return ""
				}
			}
			return "value must be one of '" + strings.Join(p.enum, "', '") + "'"
		}
		if p.dateTime {
			if err := checkDateTime(bytesString(str)); err != nil {
				return fmt.Sprintf("%s is not valid date-time: %v", strconv.Quote(string(str)), err)
			}
		}
	case "boolean":
		if k != kindTrue && k != kindFalse {
			return "got " + kindName(k) + ", want boolean"
		}
	case "number":
		if k != kindNumber {
			return "got " + kindName(k) + ", want number"
		}
		if !p.hasMin {
			return "" // no bounds: the library never evaluates it
		}
		n := parseNumber(raw)
		if !n.ratOK() {
			// The library panics comparing it with the minimum (Validate
			// turns that into a violation too).
			return "number " + string(raw) + " out of range: its decimal exponent exceeds 1e6"
		}
		if n.neg && !n.zero {
			return "minimum: got " + string(raw) + ", want " + strconv.FormatInt(p.min, 10)
		}
	case "integer":
		if k != kindNumber {
			return "got " + kindName(k) + ", want integer"
		}
		n := parseNumber(raw)
		if !n.ratOK() || !n.isInteger() {
			return "got number, want integer"
		}
		if p.hasMin && ((n.neg && !n.zero) || (n.zero && p.min > 0)) {
			return "minimum: got " + string(raw) + ", want " + strconv.FormatInt(p.min, 10)
		}
	}
	return ""
}

// isInteger reports whether the number's value is a whole number (9e2 and
// 900.0 are). The exponent must fit (ratOK).
func (n jsonNumber) isInteger() bool {
	if n.zero {
		return true
	}
	total := len(n.intPart) + len(n.fracPart)
	digit := func(i int) byte {
		if i < len(n.intPart) {
			return n.intPart[i]
		}
		return n.fracPart[i-len(n.intPart)]
	}
	trail := 0
	for digit(total-1-trail) == '0' {
		trail++
	}
	return n.exp-n.fracCount+int64(trail) >= 0
}
