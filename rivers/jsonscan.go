package rivers

import (
	"encoding/json"
	"unicode/utf8"
)

// member is one member of a JSON object: its (unescaped) name and its raw
// value, both slices of the document when the name has no escapes.
type member struct {
	key []byte
	raw json.RawMessage
}

// scanObject splits a JSON object into its members without decoding the
// values: one pass, no allocation but the result. data has already been
// checked to be valid JSON (contracts.DecodeBinary does); for anything that
// is not an object it returns nil.
func scanObject(data []byte) []member {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil
	}
	out := make([]member, 0, 12)
	i++
	for {
		i = skipWS(data, i)
		if i >= len(data) {
			return nil
		}
		switch data[i] {
		case '}':
			return out
		case ',':
			i++
			continue
		case '"':
		default:
			return nil
		}
		end, escaped := scanString(data, i)
		if end < 0 {
			return nil
		}
		key := data[i+1 : end-1]
		if escaped || !utf8.Valid(key) { // as encoding/json reads them
			var s string
			if json.Unmarshal(data[i:end], &s) != nil {
				return nil
			}
			key = []byte(s)
		}
		i = skipWS(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil
		}
		i = skipWS(data, i+1)
		vEnd := scanValue(data, i)
		if vEnd < 0 {
			return nil
		}
		out = append(out, member{key: key, raw: data[i:vEnd]})
		i = vEnd
	}
}

// find returns the raw value of the last member named name (encoding/json
// keeps the last of duplicates).
func find(ms []member, name string) (json.RawMessage, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if string(ms[i].key) == name {
			return ms[i].raw, true
		}
	}
	return nil, false
}

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index after the string starting at data[i] (a
// quote) and whether it holds escapes; -1 when unterminated.
func scanString(data []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, false
}

// scanValue returns the index after the value starting at data[i].
func scanValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		end, _ := scanString(data, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, _ := scanString(data, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
	scalar:
		for j < len(data) {
			switch data[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				break scalar
			}
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
