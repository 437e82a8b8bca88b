package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/watershed-grid/watershed/contracts/events"
)

// meterReadingSchemaSHA256 is the SHA-256 of the schemas/meter.reading.v1.json
// the typed validator below implements. A catalog whose meter.reading.v1
// schema has other bytes validates it with the JSON Schema library instead
// (TestTypedValidatorImplementsTheEmbeddedSchema fails until the typed
// validator and this hash are brought up to date).
const meterReadingSchemaSHA256 = "a63e4c8ff46dc4850793f904c8ab96f7679136ece01fec4ce0b628ff1bc29d40"

func schemaSHA256(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// ErrUndecodable is what DecodeMeterReading wraps when a payload is valid
// under its schema but encoding/json cannot decode it into the Go type
// (a number beyond float64 such as 1e400, an interval written 900.0, a
// read_at with escapes that time.Time does not parse). Like
// ErrInvalidPayload it is permanent.
var ErrUndecodable = errors.New("payload does not fit its Go type")

// The properties of meter.reading.v1, in schema order.
const (
	mrMeterID = iota
	mrTransformerID
	mrFeederID
	mrReadAt
	mrIntervalS
	mrEnergy
	mrDemand
	mrVoltage
	mrFlags
	mrCount
)

var mrNames = [mrCount]string{"meter_id", "transformer_id", "feeder_id", "read_at",
	"interval_s", "energy_kwh_total", "demand_kw", "voltage_v", "flags"}

const mrRequired = 1<<mrFlags - 1 // every property but flags

var mrPaths = func() (paths [mrCount]string) {
	for p, n := range mrNames {
		paths[p] = "/" + n
	}
	return paths
}()

// indexOf returns the index of key (decoded) in names, or -1.
func indexOf(names []string, key []byte) int {
	for i, n := range names {
		if n == string(key) {
			return i
		}
	}
	return -1
}

// maxProps is the most properties a typed validator's schema may have.
const maxProps = 16

// objScan is one pass over a payload: where the last value of each known
// property is (encoding/json keeps the last of duplicate keys, and so does
// the JSON Schema library, which validates what it decoded).
type objScan struct {
	start, end [maxProps]int
	kind       [maxProps]byte
	plain      [maxProps]bool // string values without escapes or invalid UTF-8
	seen       uint32
	dup        bool
	extra      []string // unknown keys, decoded (allocated only for invalid payloads)
}

// validateMeterReading checks data against meter.reading.v1 with the JSON
// Schema library's verdict and fills s. It allocates only for an invalid
// payload.
func validateMeterReading(data []byte, s *objScan) *ValidationError {
	var out *ValidationError
	add := func(path, msg string) {
		if out == nil {
			out = &ValidationError{Type: events.TypeMeterReading}
		}
		out.Violations = append(out.Violations, Violation{Path: path, Message: msg})
	}
	if serr := s.scan(data, mrNames[:]); serr != nil {
		add("", fmt.Sprintf("not valid JSON: %s (offset %d)", serr.msg, serr.off))
		return out
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		add("", "got "+kindName(kindOf(data[i]))+", want object")
		return out
	}
	if missing := mrRequired &^ s.seen; missing != 0 {
		var names []string
		for p := range mrFlags {
			if missing&(1<<p) != 0 {
				names = append(names, "'"+mrNames[p]+"'")
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
			names[i] = strconv.Quote(k)
			names[i] = "'" + names[i][1:len(names[i])-1] + "'"
		}
		add("", "additional properties "+strings.Join(names, ", ")+" not allowed")
	}
	for p := range mrCount {
		if s.seen&(1<<p) == 0 {
			continue
		}
		raw := data[s.start[p]:s.end[p]]
		path := mrPaths[p]
		switch p {
		case mrMeterID, mrTransformerID, mrFeederID:
			if msg := checkString(s.kind[p], raw, s.plain[p], 1, 128); msg != "" {
				add(path, msg)
			}
		case mrReadAt:
			if s.kind[p] != kindString {
				add(path, "got "+kindName(s.kind[p])+", want string")
				break
			}
			var buf [64]byte
			str := raw[1 : len(raw)-1]
			if !s.plain[p] {
				str = appendUnquoted(buf[:0], str)
			}
			if err := checkDateTime(bytesString(str)); err != nil {
				add(path, fmt.Sprintf("%s is not valid date-time: %v", strconv.Quote(string(str)), err))
			}
		case mrIntervalS:
			if s.kind[p] != kindNumber {
				add(path, "got "+kindName(s.kind[p])+", want integer")
				break
			}
			if msg := checkInterval(raw); msg != "" {
				add(path, msg)
			}
		case mrEnergy, mrVoltage, mrDemand:
			if s.kind[p] != kindNumber {
				add(path, "got "+kindName(s.kind[p])+", want number")
				break
			}
			if p == mrDemand { // no bounds: the library never evaluates it
				break
			}
			n := parseNumber(raw)
			if !n.ratOK() {
				// The JSON Schema library cannot represent this number as a
				// big.Rat and panics comparing it with its minimum; the typed
				// validator rejects it.
				add(path, "number "+string(raw)+" out of range: its decimal exponent exceeds 1e6")
			} else if n.neg && !n.zero {
				add(path, "minimum: got "+string(raw)+", want 0")
			}
		case mrFlags:
			checkFlags(s.kind[p], raw, add)
		}
	}
	if out != nil && len(out.Violations) > 1 {
		sortViolations(out)
	}
	return out
}

func kindOf(c byte) byte {
	if c == '-' || isDigit(c) {
		return kindNumber
	}
	return c
}

// bytesString views b as a string without copying; the string must not
// outlive b's content.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// scan checks data's JSON syntax exactly as encoding/json's Decoder does
// (one value, then only white space) and, when the value is an object,
// records where the last value of each property in names is.
func (s *objScan) scan(data []byte, names []string) *syntaxError {
	i := skipSpace(data, 0)
	if i >= len(data) {
		return &syntaxError{"unexpected end of JSON input", i}
	}
	if data[i] != '{' {
		end, _, err := scanValue(data, i, 0)
		if err != nil {
			return err
		}
		if end = skipSpace(data, end); end != len(data) {
			return errAt(data, end, "after top-level value")
		}
		return nil
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return errAt(data, i, "looking for beginning of object key string")
			}
			keyEnd, plain, err := scanString(data, i)
			if err != nil {
				return err
			}
			key := data[i+1 : keyEnd-1]
			var buf [32]byte
			if !plain {
				key = appendUnquoted(buf[:0], key)
			}
			p := indexOf(names, key)
			i = skipSpace(data, keyEnd)
			if i >= len(data) || data[i] != ':' {
				return errAt(data, i, "after object key")
			}
			i = skipSpace(data, i+1)
			start := i
			var k byte
			if i, k, err = scanValue(data, i, 1); err != nil {
				return err
			}
			if p >= 0 {
				if s.seen&(1<<p) != 0 {
					s.dup = true
				}
				s.seen |= 1 << p
				s.start[p], s.end[p], s.kind[p] = start, i, k
				if k == kindString {
					_, s.plain[p], _ = scanString(data, start)
				}
			} else {
				s.extra = append(s.extra, string(key))
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return errAt(data, i, "")
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return errAt(data, i, "after object key:value pair")
			}
			i = skipSpace(data, i+1)
		}
	}
	if i = skipSpace(data, i); i != len(data) {
		return errAt(data, i, "after top-level value")
	}
	return nil
}

// runeCount counts the runes of the JSON string raw (with its quotes) once
// decoded, as the library does (utf8.RuneCount of the decoded string).
func runeCount(raw []byte, plain bool) int {
	body := raw[1 : len(raw)-1]
	if plain {
		return utf8.RuneCount(body)
	}
	var buf [256]byte
	return utf8.RuneCount(appendUnquoted(buf[:0], body))
}

// checkString checks a string property with minLength and maxLength.
func checkString(k byte, raw []byte, plain bool, minLen, maxLen int) string {
	if k != kindString {
		return "got " + kindName(k) + ", want string"
	}
	if plain && len(raw)-2 >= minLen && len(raw)-2 <= maxLen {
		return "" // n bytes hold between 1 and n runes
	}
	switch n := runeCount(raw, plain); {
	case n < minLen:
		return "minLength: got " + strconv.Itoa(n) + ", want " + strconv.Itoa(minLen)
	case n > maxLen:
		return "maxLength: got " + strconv.Itoa(n) + ", want " + strconv.Itoa(maxLen)
	}
	return ""
}

// checkFlags checks the flags property: an array of at most 32 strings of
// 1 to 64 characters.
func checkFlags(k byte, raw []byte, add func(path, msg string)) {
	if k != kindArray {
		add("/flags", "got "+kindName(k)+", want array")
		return
	}
	n := 0
	i := skipSpace(raw, 1)
	for raw[i] != ']' {
		start := i
		end, k, _ := scanValue(raw, i, 1)
		plain := false
		if k == kindString {
			_, plain, _ = scanString(raw, start)
		}
		if msg := checkString(k, raw[start:end], plain, 1, 64); msg != "" {
			add("/flags/"+strconv.Itoa(n), msg)
		}
		n++
		i = skipSpace(raw, end)
		if raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	if n > 32 {
		add("/flags", "maxItems: got "+strconv.Itoa(n)+", want 32")
	}
}

// jsonNumber is a JSON number literal taken apart.
type jsonNumber struct {
	neg       bool
	zero      bool   // every mantissa digit is 0
	intPart   []byte // digits before the point
	fracPart  []byte // digits after the point
	exp       int64  // decimal exponent
	expOK     bool   // the exponent fits an int64 (big.Rat.SetString's limit)
	fracCount int64
}

func parseNumber(raw []byte) jsonNumber {
	var n jsonNumber
	i := 0
	if raw[0] == '-' {
		n.neg = true
		i++
	}
	j := i
	for j < len(raw) && isDigit(raw[j]) {
		j++
	}
	n.intPart = raw[i:j]
	if j < len(raw) && raw[j] == '.' {
		k := j + 1
		for k < len(raw) && isDigit(raw[k]) {
			k++
		}
		n.fracPart = raw[j+1 : k]
		j = k
	}
	n.fracCount = int64(len(n.fracPart))
	n.zero = allZero(n.intPart) && allZero(n.fracPart)
	n.expOK = true
	if j < len(raw) { // e or E
		e := raw[j+1:]
		if e[0] == '+' {
			e = e[1:]
		}
		var err error
		n.exp, err = strconv.ParseInt(bytesString(e), 10, 64)
		n.expOK = err == nil
	}
	return n
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}

// ratOK reports whether big.Rat.SetString, which the JSON Schema library
// evaluates numbers with, accepts the literal: its exponent must fit an
// int64 and, unless the value is 0, the decimal exponent net of the
// fraction digits must stay within ±1e6.
func (n jsonNumber) ratOK() bool {
	if !n.expOK {
		return false
	}
	if n.zero {
		return true
	}
	exp5 := -n.fracCount
	exp5 += n.exp
	if exp5 < 0 {
		exp5 = -exp5
		if exp5 < 0 {
			return false
		}
	}
	return exp5 <= 1e6
}

// checkInterval checks interval_s: an integer (by value: 9e2 and 900.0
// are integers) between 1 and 86400.
func checkInterval(raw []byte) string {
	n := parseNumber(raw)
	if !n.ratOK() {
		return "got number, want integer"
	}
	if n.zero {
		return "minimum: got 0, want 1"
	}
	// value = significant digits × 10^e, the digits being intPart+fracPart
	// without leading and trailing zeros.
	total := len(n.intPart) + len(n.fracPart)
	digit := func(i int) byte {
		if i < len(n.intPart) {
			return n.intPart[i]
		}
		return n.fracPart[i-len(n.intPart)]
	}
	lead, trail := 0, 0
	for digit(lead) == '0' {
		lead++
	}
	for digit(total-1-trail) == '0' {
		trail++
	}
	e := n.exp - n.fracCount + int64(trail)
	switch {
	case e < 0:
		return "got number, want integer"
	case n.neg:
		return "minimum: got " + string(raw) + ", want 1"
	case int64(total-lead-trail)+e > 5:
		return "maximum: got " + string(raw) + ", want 86400"
	}
	v := int64(0)
	for i := lead; i < total-trail; i++ {
		v = v*10 + int64(digit(i)-'0')
	}
	for ; e > 0; e-- {
		v *= 10
	}
	if v > 86400 {
		return "maximum: got " + string(raw) + ", want 86400"
	}
	return ""
}

// checkDateTime is the JSON Schema library's date-time format check
// (jsonschema/v6 format.go validateDateTime), step by step: RFC 3339 with
// a 't' or 'T', any number of second-fraction digits, 'z', 'Z' or a
// ±hh:mm offset, and a leap second only at 23:59 UTC.
func checkDateTime(s string) error {
	if len(s) < 20 {
		return errors.New("less than 20 characters long")
	}
	if s[10] != 't' && s[10] != 'T' {
		return errors.New("11th character must be t or T")
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return fmt.Errorf("invalid date element: %v", err)
	}
	if err := checkTime(s[11:]); err != nil {
		return fmt.Errorf("invalid time element: %v", err)
	}
	return nil
}

// checkTime is the library's validateTime without its allocations: the
// same splits on ':' and the same strconv.Atoi of each token.
func checkTime(str string) error {
	if len(str) < 9 {
		return errors.New("less than 9 characters long")
	}
	if str[2] != ':' || str[5] != ':' {
		return errors.New("missing colon in correct place")
	}
	// strings.SplitN(str[:8], ":", 3)
	t := str[:8]
	c1 := strings.IndexByte(t, ':')
	rest := t[c1+1:]
	c2 := strings.IndexByte(rest, ':')
	var hms [3]int
	for i, tok := range [3]string{t[:c1], rest[:c2], rest[c2+1:]} {
		v, err := strconv.Atoi(tok)
		if err != nil {
			return errors.New("invalid hour/min/sec")
		}
		if v < 0 {
			return errors.New("non-positive hour/min/sec")
		}
		hms[i] = v
	}
	h, m, s := hms[0], hms[1], hms[2]
	if h > 23 || m > 59 || s > 60 {
		return errors.New("hour/min/sec out of range")
	}
	str = str[8:]
	if rem, ok := strings.CutPrefix(str, "."); ok {
		d := 0
		for d < len(rem) && rem[d] >= '0' && rem[d] <= '9' {
			d++
		}
		if d == 0 {
			return errors.New("no digits in second fraction")
		}
		str = rem[d:]
	}
	if str != "z" && str != "Z" {
		if len(str) != 6 {
			return errors.New("offset must be 6 characters long")
		}
		var sign int
		switch str[0] {
		case '+':
			sign = -1
		case '-':
			sign = +1
		default:
			return errors.New("offset must begin with plus/minus")
		}
		str = str[1:]
		if str[2] != ':' {
			return errors.New("missing colon in offset in correct place")
		}
		// strings.SplitN(str, ":", 2)
		c := strings.IndexByte(str, ':')
		var zhm [2]int
		for i, tok := range [2]string{str[:c], str[c+1:]} {
			v, err := strconv.Atoi(tok)
			if err != nil {
				return errors.New("invalid hour/min in offset")
			}
			if v < 0 {
				return errors.New("non-positive hour/min in offset")
			}
			zhm[i] = v
		}
		zh, zm := zhm[0], zhm[1]
		if zh > 23 || zm > 59 {
			return errors.New("hour/min in offset out of range")
		}
		hm := (h*60 + m) + sign*(zh*60+zm)
		if hm < 0 {
			hm += 24 * 60
		}
		h, m = hm/60, hm%60
	}
	if s >= 60 && (h != 23 || m != 59) {
		return errors.New("invalid leap second")
	}
	return nil
}

// DecodeMeterReading validates data against meter.reading.v1 and decodes it
// into m in one pass: the verdict is the JSON Schema library's (as
// Default().Validate), the values are those json.Unmarshal gives a zero
// MeterReading. It returns nil; a *ValidationError (errors.Is
// ErrInvalidPayload) when data breaks the schema; or an error wrapping
// ErrUndecodable when data is valid but encoding/json cannot decode it into
// MeterReading (energy_kwh_total 1e400, interval_s 900.0). m is zeroed
// first; after an error its content is unspecified.
//
// It allocates only the strings it returns (ids, flags) and, for a read_at
// with a numeric offset, its time.Location.
func DecodeMeterReading(data []byte, m *events.MeterReading) error {
	var s objScan
	if verr := validateMeterReading(data, &s); verr != nil {
		return verr
	}
	*m = events.MeterReading{}
	if s.dup {
		// Duplicate keys: encoding/json decodes every occurrence into the
		// field (and fails if any does not fit); let it.
		if err := json.Unmarshal(data, m); err != nil {
			return fmt.Errorf("catalog: %s: %w: %v", events.TypeMeterReading, ErrUndecodable, err)
		}
		return nil
	}
	str := func(p int) string {
		raw := data[s.start[p]+1 : s.end[p]-1]
		if s.plain[p] {
			return string(raw)
		}
		return string(appendUnquoted(make([]byte, 0, len(raw)), raw))
	}
	undecodable := func(p int, err error) error {
		return fmt.Errorf("catalog: %s: %w: %s %s: %v", events.TypeMeterReading, ErrUndecodable,
			mrNames[p], data[s.start[p]:s.end[p]], err)
	}
	m.MeterID, m.TransformerID, m.FeederID = str(mrMeterID), str(mrTransformerID), str(mrFeederID)
	if err := m.ReadAt.UnmarshalJSON(data[s.start[mrReadAt]:s.end[mrReadAt]]); err != nil {
		return undecodable(mrReadAt, err)
	}
	iv, err := strconv.ParseInt(bytesString(data[s.start[mrIntervalS]:s.end[mrIntervalS]]), 10, 64)
	if err != nil {
		return undecodable(mrIntervalS, err)
	}
	m.IntervalSeconds = int(iv)
	for _, f := range [...]struct {
		p   int
		dst *float64
	}{{mrEnergy, &m.EnergyKWhTotal}, {mrDemand, &m.DemandKW}, {mrVoltage, &m.VoltageVolts}} {
		v, err := strconv.ParseFloat(bytesString(data[s.start[f.p]:s.end[f.p]]), 64)
		if err != nil {
			return undecodable(f.p, err)
		}
		*f.dst = v
	}
	if s.seen&(1<<mrFlags) != 0 {
		raw := data[s.start[mrFlags]:s.end[mrFlags]]
		m.Flags = []string{}
		for i := skipSpace(raw, 1); raw[i] != ']'; {
			end, _, _ := scanString(raw, i)
			_, plain, _ := scanString(raw, i)
			body := raw[i+1 : end-1]
			if plain {
				m.Flags = append(m.Flags, string(body))
			} else {
				m.Flags = append(m.Flags, string(appendUnquoted(make([]byte, 0, len(body)), body)))
			}
			i = skipSpace(raw, end)
			if raw[i] == ',' {
				i = skipSpace(raw, i+1)
			}
		}
	}
	return nil
}

func sortViolations(out *ValidationError) {
	slices.SortStableFunc(out.Violations, func(a, b Violation) int { return strings.Compare(a.Path, b.Path) })
	out.Violations = slices.Compact(out.Violations)
}
