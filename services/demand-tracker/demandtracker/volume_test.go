package demandtracker

import (
	"testing"
	"time"
)

func TestVolumeCountsConsumedOutputPerProducer(t *testing.T) {
	v := NewVolume(3)
	now := time.Now()
	v.Observe("a1", "usage.interval.v1", "/services/usage-aggregator@1.0.0", "", now)
	v.Observe("b1", "usage.interval.v1", "/services/usage-aggregator@2.0.0", "", now)
	v.Observe("b2", "usage.interval.v1", "/services/usage-aggregator@2.0.0", "", now.Add(time.Second))
	// billing consumes only the 2.0.0 output; the same cause twice counts once
	v.Observe("x1", "billing.estimate.v1", "/services/billing", "b1", now)
	v.Observe("x2", "billing.estimate.v1", "/services/billing", "b1", now)
	// a1 fell out of the window of 3 ids: its late consumer is not matched
	v.Observe("x3", "billing.estimate.v1", "/services/billing", "a1", now)
	s := v.Snapshot()
	if len(s) != 2 || s[1].Type != "usage.interval.v1" || s[1].Events != 3 || !s[1].LastAt.Equal(now.Add(time.Second)) {
		t.Fatalf("snapshot = %+v", s)
	}
	got := map[string]ProducerVolume{}
	for _, p := range s[1].Producers {
		got[p.Producer] = p
	}
	if p := got["/services/usage-aggregator@2.0.0"]; p.Events != 2 || p.Consumed != 1 {
		t.Errorf("2.0.0 = %+v", p)
	}
	if p := got["/services/usage-aggregator@1.0.0"]; p.Events != 1 || p.Consumed != 0 {
		t.Errorf("1.0.0 = %+v", p)
	}
}
