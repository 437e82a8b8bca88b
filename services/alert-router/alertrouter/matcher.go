package alertrouter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Matcher tests one label of an alert, Alertmanager style:
//
//	name="value"    equal            name!="value"   not equal
//	name=~"regex"   matches (whole)  name!~"regex"   does not match
//	name>=1.5       number at least  (also >, <=, <)
//
// The quotes are optional. A label that is absent is the empty string, so
// name="" matches an alert without it; a numeric comparison fails on an
// absent or non-numeric label.
type Matcher struct {
	Name  string
	Op    string
	Value string

	re  *regexp.Regexp
	num float64
}

// ops, longest first so "!=" is not read as "=".
var ops = []string{"=~", "!~", "!=", ">=", "<=", "=", ">", "<"}

// ParseMatcher parses one matcher; the error says what a good one looks like.
func ParseMatcher(s string) (Matcher, error) {
	s = strings.TrimSpace(s)
	idx, op := -1, ""
	for i := 0; i < len(s) && idx < 0; i++ {
		for _, o := range ops {
			if strings.HasPrefix(s[i:], o) {
				idx, op = i, o
				break
			}
		}
	}
	if idx <= 0 {
		return Matcher{}, fmt.Errorf("matcher %q: want name=\"value\" (or !=, =~, !~, >=, >, <=, <), e.g. transformer_id=\"TX-0042\"", s)
	}
	m := Matcher{Name: strings.TrimSpace(s[:idx]), Op: op, Value: strings.TrimSpace(s[idx+len(op):])}
	if !validLabelName(m.Name) {
		return Matcher{}, fmt.Errorf("matcher %q: label %q: use letters, digits, '_' and '.' (a dotted path reaches into the event's data)", s, m.Name)
	}
	if uq, err := strconv.Unquote(m.Value); err == nil && len(m.Value) >= 2 && (m.Value[0] == '"' || m.Value[0] == '\'') {
		m.Value = uq
	} else if len(m.Value) >= 2 && m.Value[0] == '\'' && m.Value[len(m.Value)-1] == '\'' {
		m.Value = m.Value[1 : len(m.Value)-1]
	}
	switch op {
	case "=~", "!~":
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: bad regular expression: %w", s, err)
		}
		m.re = re
	case ">=", "<=", ">", "<":
		f, err := strconv.ParseFloat(m.Value, 64)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %s wants a number, got %q", s, op, m.Value)
		}
		m.num = f
	}
	return m, nil
}

// ParseMatchers parses every matcher and joins the errors.
func ParseMatchers(ss []string) ([]Matcher, error) {
	out := make([]Matcher, 0, len(ss))
	var errs []string
	for _, s := range ss {
		m, err := ParseMatcher(s)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, m)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// String returns the matcher in the syntax ParseMatcher reads.
func (m Matcher) String() string {
	switch m.Op {
	case ">=", "<=", ">", "<":
		return m.Name + m.Op + m.Value
	}
	return m.Name + m.Op + strconv.Quote(m.Value)
}

// Matches reports whether labels satisfy the matcher.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~":
		return m.re.MatchString(v)
	case "!~":
		return !m.re.MatchString(v)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return false
	}
	switch m.Op {
	case ">=":
		return f >= m.num
	case "<=":
		return f <= m.num
	case ">":
		return f > m.num
	default:
		return f < m.num
	}
}

// matchAll reports whether every matcher matches (true for none).
func matchAll(ms []Matcher, labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case (r >= '0' && r <= '9') || r == '.':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return !strings.HasSuffix(s, ".") && !strings.Contains(s, "..")
}
