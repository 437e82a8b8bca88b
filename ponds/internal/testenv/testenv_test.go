package testenv

import "testing"

func TestRequireReturnsTheValue(t *testing.T) {
	t.Setenv("WATERSHED_TEST_TESTENV_PROBE", "redis://127.0.0.1:1/0")
	if got := Require(t, "WATERSHED_TEST_TESTENV_PROBE", "probe"); got != "redis://127.0.0.1:1/0" {
		t.Fatalf("Require = %q", got)
	}
}

func TestRequireSkipsOrFailsWhenUnset(t *testing.T) {
	t.Setenv("WATERSHED_TEST_TESTENV_PROBE", "")
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		func() {
			defer func() { _ = recover() }() // Skip and Fatal stop the recorder's goroutine by panicking
			Require(r, "WATERSHED_TEST_TESTENV_PROBE", "probe")
		}()
		if wantFatal := ci == "true"; r.fatal != wantFatal || r.skip == wantFatal {
			t.Errorf("CI=%q: fatal=%v skip=%v", ci, r.fatal, r.skip)
		}
	}
}

// recorder notes Skip and Fatal instead of ending the real test.
type recorder struct {
	testing.TB
	skip, fatal bool
}

type stop struct{}

func (r *recorder) Helper()      {}
func (r *recorder) Skip(...any)  { r.skip = true; panic(stop{}) }
func (r *recorder) Fatal(...any) { r.fatal = true; panic(stop{}) }
