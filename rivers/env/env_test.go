package env

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestReaderSetsWhatIsSetAndKeepsDefaults(t *testing.T) {
	r := Lookup(lookup(map[string]string{
		"D": " 90s ", "I": "7", "F": "230.5", "B": "false", "S": "x", "BLANK": "  ",
	}))
	d, i, f, b, s, blank := time.Second, 1, 1.0, true, "default", "default"
	unset := 3
	r.Duration("D", &d)
	r.Int("I", &i)
	r.Float("F", &f)
	r.Bool("B", &b)
	r.String("S", &s)
	r.String("BLANK", &blank)
	r.Int("UNSET", &unset)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if d != 90*time.Second || i != 7 || f != 230.5 || b || s != "x" || blank != "default" || unset != 3 {
		t.Errorf("got %v %v %v %v %q %q %v", d, i, f, b, s, blank, unset)
	}
}

func TestReaderReportsEveryProblemAtOnce(t *testing.T) {
	r := Lookup(lookup(map[string]string{"D": "soon", "I": "many", "B": "perhaps", "U": "ftp://x"}))
	d, i, b := time.Second, 1, true
	r.Duration("D", &d)
	r.Int("I", &i)
	r.Bool("B", &b)
	r.Func("U", func(v string) error {
		if !strings.HasPrefix(v, "redis://") {
			return errors.New("want a URL such as redis://host:6379")
		}
		return nil
	})
	r.Problem("MAX", "%d is below MIN %d", 1, 2)
	r.Add(nil)
	r.Add(errors.New("other: wrong"))
	err := r.Err()
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{`D="soon": want a duration`, `I="many": want an integer`, `B="perhaps": want true or false`,
		`U="ftp://x": want a URL`, "MAX: 1 is below MIN 2", "other: wrong"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for n, w := range want {
		if !strings.HasPrefix(lines[n], w) {
			t.Errorf("line %d = %q, want it to start with %q", n, lines[n], w)
		}
	}
	if d != time.Second || i != 1 || !b {
		t.Errorf("bad values changed the fields: %v %v %v", d, i, b)
	}
}

func TestListReplacesTheDefault(t *testing.T) {
	r := Lookup(lookup(map[string]string{"L": " a, ,b ,c", "BLANK": " "}))
	l, kept := []string{"default"}, []string{"default"}
	r.List("L", &l)
	r.List("BLANK", &kept)
	if strings.Join(l, "|") != "a|b|c" || strings.Join(kept, "|") != "default" {
		t.Errorf("List: %q, blank kept %q", l, kept)
	}
}
