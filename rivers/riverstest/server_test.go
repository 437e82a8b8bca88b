package riverstest

import "testing"

func TestRequireServerReturnsTheVariable(t *testing.T) {
	t.Setenv("WATERSHED_TEST_SOMETHING", " 127.0.0.1:1 ")
	if got := RequireServer(t, "WATERSHED_TEST_SOMETHING", "something"); got != "127.0.0.1:1" {
		t.Errorf("RequireServer = %q, want the trimmed value", got)
	}
}

func TestRequireServerSkipsOrFailsWhenUnset(t *testing.T) {
	t.Setenv("WATERSHED_TEST_SOMETHING", "")
	t.Setenv("CI", "")
	skipped := false
	t.Run("unset", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RequireServer(t, "WATERSHED_TEST_SOMETHING", "something")
		t.Error("RequireServer returned with the variable unset")
	})
	if !skipped {
		t.Error("an unset variable outside CI did not skip the test")
	}
}
