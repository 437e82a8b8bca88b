package landscape

import (
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

func fixture(now time.Time) *Registry {
	r := New(10 * time.Second)
	r.Observe(Heartbeat{Service: "reading-validator", Version: "v1.0.0", Instance: "rv-1",
		Publishes: []string{"meter.reading.validated.v1"},
		Rivers:    []River{{Topic: "rapids", Types: []string{"meter.reading.v1"}}}}, now)
	r.Observe(Heartbeat{Service: "reading-validator", Version: "v1.1.0", Instance: "rv-2",
		Publishes: []string{"meter.reading.validated.v1", "meter.reading.rejected.v1"},
		Rivers:    []River{{Topic: "rapids", Types: []string{"meter.reading.v1"}}}}, now)
	r.Observe(Heartbeat{Service: "reading-validator", Version: "v1.1.0", Instance: "rv-3",
		Publishes: []string{"meter.reading.validated.v1", "meter.reading.rejected.v1"}}, now.Add(-time.Second))
	r.Observe(Heartbeat{Service: "usage-aggregator", Version: "v0.3.0", Instance: "ua-1",
		Rivers: []River{{Topic: "rivers", Types: []string{"meter.reading.validated.v1"}}}}, now)
	r.Observe(Heartbeat{Service: "raw-archiver", Version: "v0.1.0", Instance: "ra-1",
		Rivers: []River{{Topic: "rivers", Types: []string{Wildcard}, Passive: true}}}, now)
	return r
}

func TestServicesVersionsSideBySide(t *testing.T) {
	now := time.Now()
	r := fixture(now)
	s, ok := r.Service("reading-validator")
	if !ok || len(s.Versions) != 2 || s.Instances != 3 {
		t.Fatalf("service = %+v", s)
	}
	if v := s.Versions[1]; v.Version != "v1.1.0" || len(v.Instances) != 2 || len(v.Publishes) != 2 || len(v.Subscribes) != 1 {
		t.Fatalf("v1.1.0 = %+v (contracts must come from the newest heartbeat)", v)
	}
	if _, ok := r.Service("nope"); ok {
		t.Fatal("unknown service found")
	}
	if r.Observe(Heartbeat{Service: "x"}, now) {
		t.Fatal("heartbeat without instance accepted")
	}
}

func TestDemandGraph(t *testing.T) {
	r := fixture(time.Now())
	types := map[string]Type{}
	for _, ty := range r.Types() {
		types[ty.Type] = ty
	}
	val := types["meter.reading.validated.v1"]
	if len(val.Producers) != 2 || val.Active != 1 || len(val.Consumers) != 2 {
		t.Fatalf("validated = %+v", val)
	}
	rej := types["meter.reading.rejected.v1"]
	if rej.Active != 0 || len(rej.Consumers) != 1 || !rej.Consumers[0].Passive || rej.Consumers[0].Service != "raw-archiver" {
		t.Fatalf("rejected (only a passive archiver) = %+v", rej)
	}
	raw := types["meter.reading.v1"]
	if len(raw.Producers) != 0 || raw.Active != 2 {
		t.Fatalf("raw reading = %+v", raw)
	}
	g := r.Graph()
	if len(g.Nodes) != 4 {
		t.Fatalf("nodes = %+v", g.Nodes)
	}
	want := Edge{From: "reading-validator@v1.1.0", To: "usage-aggregator@v0.3.0", Type: "meter.reading.validated.v1"}
	if !slices.Contains(g.Edges, want) {
		t.Fatalf("edges %+v lack %+v", g.Edges, want)
	}
}

func TestExpireAndRemove(t *testing.T) {
	now := time.Now()
	r := fixture(now)
	if n := r.Expire(now.Add(9*time.Second + 500*time.Millisecond)); n != 1 {
		t.Fatalf("expired %d, want rv-3 only", n)
	}
	r.Remove("ua-1")
	if _, ok := r.Service("usage-aggregator"); ok {
		t.Fatal("removed instance still listed")
	}
}

func TestPrefixPatternRiver(t *testing.T) {
	r := fixture(time.Now())
	r.Observe(Heartbeat{Service: "alert-router", Version: "1.0.0", Instance: "ar-1",
		Rivers: []River{{Topic: "rivers", Types: []string{"meter.reading.*"}}}}, time.Now())
	for _, ty := range r.Types() {
		matched := false
		for _, c := range ty.Consumers {
			matched = matched || c.Service == "alert-router"
		}
		// meter.reading.v1 is not published by anyone; the pattern expands
		// to published types only
		want := ty.Type == "meter.reading.validated.v1" || ty.Type == "meter.reading.rejected.v1"
		if matched != want {
			t.Errorf("%s: alert-router consumer = %v, want %v", ty.Type, matched, want)
		}
	}
}

// A retirement notice travels from the heartbeat to the version's view, so
// `watershed services` and the console can warn before the type stops.
func TestRetirementNoticeShown(t *testing.T) {
	now := time.Now()
	at := now.Add(10 * time.Minute).UTC()
	r := New(10 * time.Second)
	hb := FromEvent(events.Heartbeat{Service: "usage-alerts", Version: "v0.1.0", Instance: "ua-1",
		Publishes: []string{"usage.alert.v1"},
		Retiring:  []events.RetirementNotice{{Type: "usage.alert.v1", EffectiveAt: at, Reason: "no active subscriber"}}})
	r.Observe(hb, now)
	s, ok := r.Service("usage-alerts")
	if !ok || len(s.Versions) != 1 {
		t.Fatalf("service = %+v", s)
	}
	want := []Notice{{Type: "usage.alert.v1", EffectiveAt: at, Reason: "no active subscriber"}}
	if got := s.Versions[0].Retiring; !slices.Equal(got, want) {
		t.Errorf("retiring = %+v, want %+v", got, want)
	}
	// A later heartbeat without the notice (a subscriber appeared) clears it.
	hb.Retiring = nil
	r.Observe(hb, now.Add(time.Second))
	if s, _ := r.Service("usage-alerts"); len(s.Versions[0].Retiring) != 0 || s.Versions[0].Retiring == nil {
		t.Errorf("retiring after the notice was cancelled = %#v, want an empty list", s.Versions[0].Retiring)
	}
}
