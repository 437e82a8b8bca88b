package env

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Reader reads variables into fields and collects what is wrong with them.
// It is not safe for concurrent use; make one per configuration.
type Reader struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New returns a Reader of the process environment.
func New() *Reader { return Lookup(os.LookupEnv) }

// Lookup returns a Reader of lookup (os.LookupEnv, or a map in tests).
func Lookup(lookup func(string) (string, bool)) *Reader {
	return &Reader{lookup: lookup}
}

// Get returns the trimmed value of name, and whether it is set and not blank.
func (r *Reader) Get(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// String sets *dst to the value of name, when set.
func (r *Reader) String(name string, dst *string) {
	if v, ok := r.Get(name); ok {
		*dst = v
	}
}

// Duration sets *dst to the value of name, a Go duration such as 30s or
// 1h30m, when set.
func (r *Reader) Duration(name string, dst *time.Duration) {
	r.Func(name, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("want a duration such as 30s, 15m or 1h")
		}
		*dst = d
		return nil
	})
}

// Int sets *dst to the value of name, a decimal integer, when set.
func (r *Reader) Int(name string, dst *int) {
	r.Func(name, func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("want an integer")
		}
		*dst = n
		return nil
	})
}

// Float sets *dst to the value of name, a decimal number, when set.
func (r *Reader) Float(name string, dst *float64) {
	r.Func(name, func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("want a number such as 230 or 0.5")
		}
		*dst = f
		return nil
	})
}

// Bool sets *dst to the value of name, true or false (also 1/0, t/f), when
// set.
func (r *Reader) Bool(name string, dst *bool) {
	r.Func(name, func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		*dst = b
		return nil
	})
}

// List sets *dst to the comma-separated values of name (each trimmed,
// blanks dropped), when set; it replaces the default list.
func (r *Reader) List(name string, dst *[]string) {
	v, ok := r.Get(name)
	if !ok {
		return
	}
	*dst = nil
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*dst = append(*dst, f)
		}
	}
}

// Func calls parse with the value of name, when set; an error it returns is
// reported as a problem of name (say what is wanted: "want a URL such as
// redis://host:6379").
func (r *Reader) Func(name string, parse func(v string) error) {
	v, ok := r.Get(name)
	if !ok {
		return
	}
	if err := parse(v); err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: %w", name, v, err))
	}
}

// Problem records a problem that is not a parse error (a value out of
// range, two variables that contradict each other), naming the variable.
func (r *Reader) Problem(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// Add records err (a Validate result, another reader's Err) when it is not
// nil.
func (r *Reader) Add(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// Err returns every problem recorded, joined (one line each), or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }
