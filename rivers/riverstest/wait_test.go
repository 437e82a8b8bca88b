package riverstest_test

import (
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestMetricAndWaitForOnAServiceOutsideAKit(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: "waiter", Version: "0.0.1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if n := riverstest.Metric(t, svc, rivers.MetricEventsIn); n != 0 {
		t.Errorf("%s = %v before anything ran, want 0", rivers.MetricEventsIn, n)
	}
	calls := 0
	riverstest.WaitFor(t, time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("cond called %d times, want 3 (until true)", calls)
	}
}
