package catalog

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small JSON scanner for the typed validators: it accepts
// exactly the documents encoding/json accepts (the JSON Schema library
// parses payloads with encoding/json), including its nesting limit, and it
// decodes strings exactly like encoding/json (invalid UTF-8 and lone
// surrogates become U+FFFD), without allocating.

// maxNestingDepth is encoding/json's limit: a document nested deeper is a
// syntax error.
const maxNestingDepth = 10000

// Value kinds, by the first byte of the value.
const (
	kindString = '"'
	kindNumber = '0'
	kindObject = '{'
	kindArray  = '['
	kindTrue   = 't'
	kindFalse  = 'f'
	kindNull   = 'n'
)

// kindName is the JSON Schema type name of a value kind.
func kindName(k byte) string {
	switch k {
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	case kindTrue, kindFalse:
		return "boolean"
	default:
		return "null"
	}
}

// syntaxError is a JSON syntax error at byte offset Off.
type syntaxError struct {
	msg string
	off int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// scanString scans the string starting at data[i] == '"'. It returns the
// offset after the closing quote and whether the string needs decoding
// (escapes or invalid UTF-8).
func scanString(data []byte, i int) (end int, plain bool, err *syntaxError) {
	i++
	plain = true
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return i + 1, plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(data) {
				return 0, false, &syntaxError{"unexpected end of JSON input in string", len(data)}
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(data) {
						return 0, false, &syntaxError{"unexpected end of JSON input in string escape", len(data)}
					}
					if !isHex(data[i+k]) {
						return 0, false, &syntaxError{"invalid character in \\u hexadecimal escape", i + k}
					}
				}
				i += 6
			default:
				return 0, false, &syntaxError{"invalid character in string escape", i + 1}
			}
		case c < 0x20:
			return 0, false, &syntaxError{"invalid control character in string", i}
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			i += size
		}
	}
	return 0, false, &syntaxError{"unexpected end of JSON input in string", len(data)}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber scans a JSON number starting at data[i].
func scanNumber(data []byte, i int) (int, *syntaxError) {
	start := i
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return 0, &syntaxError{"invalid number", start}
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return 0, &syntaxError{"invalid number: no digits after decimal point", i}
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return 0, &syntaxError{"invalid number: no digits in exponent", i}
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	return i, nil
}

// scanValue scans the value starting at data[i] (no leading space) at
// nesting depth depth (the depth of the container it is in). It returns
// the offset after the value and its kind.
func scanValue(data []byte, i, depth int) (int, byte, *syntaxError) {
	if i >= len(data) {
		return 0, 0, &syntaxError{"unexpected end of JSON input", i}
	}
	switch c := data[i]; c {
	case '"':
		end, _, err := scanString(data, i)
		return end, kindString, err
	case '{', '[':
		if depth+1 > maxNestingDepth {
			return 0, 0, &syntaxError{"exceeded max depth", i}
		}
		end, err := scanContainer(data, i, depth+1)
		return end, c, err
	case 't':
		return scanLiteral(data, i, "true", kindTrue)
	case 'f':
		return scanLiteral(data, i, "false", kindFalse)
	case 'n':
		return scanLiteral(data, i, "null", kindNull)
	default:
		if c == '-' || isDigit(c) {
			end, err := scanNumber(data, i)
			return end, kindNumber, err
		}
		return 0, 0, &syntaxError{"invalid character looking for beginning of value", i}
	}
}

func scanLiteral(data []byte, i int, lit string, k byte) (int, byte, *syntaxError) {
	for j := 0; j < len(lit); j++ {
		if i+j >= len(data) {
			return 0, 0, &syntaxError{"unexpected end of JSON input in literal", len(data)}
		}
		if data[i+j] != lit[j] {
			return 0, 0, &syntaxError{"invalid character in literal " + lit, i + j}
		}
	}
	return i + len(lit), k, nil
}

// scanContainer scans the object or array starting at data[i].
func scanContainer(data []byte, i, depth int) (int, *syntaxError) {
	obj := data[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == closer {
		return i + 1, nil
	}
	for {
		var err *syntaxError
		if obj {
			if i >= len(data) || data[i] != '"' {
				return 0, errAt(data, i, "looking for beginning of object key string")
			}
			if i, _, err = scanString(data, i); err != nil {
				return 0, err
			}
			i = skipSpace(data, i)
			if i >= len(data) || data[i] != ':' {
				return 0, errAt(data, i, "after object key")
			}
			i = skipSpace(data, i+1)
		}
		if i, _, err = scanValue(data, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return 0, errAt(data, i, "")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case closer:
			return i + 1, nil
		default:
			if obj {
				return 0, errAt(data, i, "after object key:value pair")
			}
			return 0, errAt(data, i, "after array element")
		}
	}
}

func errAt(data []byte, i int, where string) *syntaxError {
	if i >= len(data) {
		return &syntaxError{"unexpected end of JSON input", i}
	}
	return &syntaxError{"invalid character " + quoteChar(data[i]) + " " + where, i}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "byte 0x" + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
}

// appendUnquoted appends the decoded content of the JSON string raw
// (without its quotes; already checked by scanString) to dst, exactly as
// encoding/json decodes it.
func appendUnquoted(dst, raw []byte) []byte {
	for r := 0; r < len(raw); {
		c := raw[r]
		switch {
		case c == '\\':
			switch raw[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getu4(raw[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(raw[r:])); dec != unicode.ReplacementChar {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // " \ /
				dst = append(dst, raw[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(raw[r:])
			if rr == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[r:r+size]...)
			}
			r += size
		}
	}
	return dst
}

// getu4 decodes \uXXXX from the beginning of s, returning the hex value,
// or it returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
