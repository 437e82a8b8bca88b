package demandtracker

import (
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rivers/landscape"
)

type world struct {
	reg *landscape.Registry
	now time.Time
}

func newWorld() *world {
	return &world{reg: landscape.New(time.Hour), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (w *world) beat(svc, version, instance string, publishes, retired []string, rivers ...landscape.River) {
	w.reg.Observe(landscape.Heartbeat{Service: svc, Version: version, Instance: instance,
		Publishes: publishes, Retired: retired, Rivers: rivers}, w.now)
}

func phases(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Service+":"+d.Type+":"+string(d.Phase))
	}
	return out
}

func expect(t *testing.T, got []Decision, want ...string) {
	t.Helper()
	p := phases(got)
	if len(p) != len(want) {
		t.Fatalf("decisions %v, want %v", p, want)
	}
	for i := range want {
		if p[i] != want[i] {
			t.Fatalf("decisions %v, want %v", p, want)
		}
	}
}

func TestUnwantedTypeIsNoticedThenRetiredThenReinstated(t *testing.T) {
	w := newWorld()
	tr := NewTracker(TrackerConfig{Idle: time.Minute, Grace: 2 * time.Minute, Resend: time.Hour})
	pub := []string{"usage.interval.v1", "system.heartbeat.v1"}
	archiver := landscape.River{Topic: "rivers", Types: []string{"*"}, Passive: true}
	w.beat("usage-aggregator", "1.0.0", "ua", pub, nil)
	w.beat("raw-archiver", "1.0.0", "ra", nil, nil, archiver)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	w.now = w.now.Add(59 * time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	w.now = w.now.Add(time.Second)
	ds := tr.Evaluate(w.reg.Graph(), w.now)
	expect(t, ds, "usage-aggregator:usage.interval.v1:notice")
	if d := ds[0]; d.Grace != 2*time.Minute || !d.EffectiveAt.Equal(w.now.Add(2*time.Minute)) || d.Subscribers != 0 || !d.LastDemandAt.IsZero() || d.Reason == "" {
		t.Fatalf("notice = %+v", d)
	}
	w.now = w.now.Add(time.Minute)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	w.now = w.now.Add(time.Minute)
	ds = tr.Evaluate(w.reg.Graph(), w.now)
	expect(t, ds, "usage-aggregator:usage.interval.v1:retired")
	if !ds[0].EffectiveAt.Equal(w.now) {
		t.Fatalf("retired = %+v", ds[0])
	}
	// the SDK obeys: its heartbeat lists the type as retired
	w.beat("usage-aggregator", "1.0.0", "ua", []string{"system.heartbeat.v1"}, []string{"usage.interval.v1"})
	w.now = w.now.Add(time.Minute)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	st := tr.Status()
	if len(st) != 2 || st[1].Type != "usage.interval.v1" || st[1].State != Gone || len(st[1].RetiredBy) != 1 || st[0].State != Exempt {
		t.Fatalf("status = %+v", st)
	}
	// a subscriber appears
	w.beat("billing-estimator", "0.1.0", "be", nil, nil, landscape.River{Topic: "rivers", Types: []string{"usage.interval.v1"}})
	w.now = w.now.Add(time.Second)
	ds = tr.Evaluate(w.reg.Graph(), w.now)
	expect(t, ds, "usage-aggregator:usage.interval.v1:reinstated")
	if ds[0].Subscribers != 1 || !ds[0].LastDemandAt.Equal(w.now) {
		t.Fatalf("reinstated = %+v", ds[0])
	}
	// heartbeat still says retired until the next one: no repeat within Resend
	w.now = w.now.Add(time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
}

func TestDemandResetsIdleClock(t *testing.T) {
	w := newWorld()
	tr := NewTracker(TrackerConfig{Idle: time.Minute, Grace: time.Minute})
	w.beat("p", "1.0.0", "p1", []string{"a.b.v1"}, nil)
	tr.Evaluate(w.reg.Graph(), w.now)
	w.now = w.now.Add(50 * time.Second)
	w.beat("c", "1.0.0", "c1", nil, nil, landscape.River{Topic: "rivers", Types: []string{"a.b.v1"}})
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	w.reg.Remove("c1")
	w.now = w.now.Add(50 * time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	w.now = w.now.Add(50 * time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	w.now = w.now.Add(10 * time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now), "p:a.b.v1:notice")
	// demand during the notice cancels it
	w.beat("c", "1.0.0", "c2", nil, nil, landscape.River{Topic: "rivers", Types: []string{"a.*"}})
	w.now = w.now.Add(10 * time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now), "p:a.b.v1:reinstated")
}

func TestEssentialAndSystemTypesNeverRetire(t *testing.T) {
	w := newWorld()
	tr := NewTracker(TrackerConfig{Idle: time.Second, Grace: time.Second, Essential: []string{"outage.*", "meter.command.v1"}})
	w.beat("p", "1.0.0", "p1", []string{"system.heartbeat.v1", "outage.suspected.v1", "meter.command.v1", "meter.reading.late.v1"}, nil)
	var all []Decision
	for i := 0; i < 5; i++ {
		all = append(all, tr.Evaluate(w.reg.Graph(), w.now)...)
		w.now = w.now.Add(time.Second)
	}
	expect(t, all, "p:meter.reading.late.v1:notice", "p:meter.reading.late.v1:retired")
}

func TestRetirementIsRepeatedToDisobedientProducer(t *testing.T) {
	w := newWorld()
	tr := NewTracker(TrackerConfig{Idle: time.Second, Grace: time.Second, Resend: 10 * time.Second})
	w.beat("p", "1.0.0", "p1", []string{"x.y.v1"}, nil)
	w.beat("p", "2.0.0", "p2", []string{"x.y.v1"}, nil)
	tr.Evaluate(w.reg.Graph(), w.now)
	w.now = w.now.Add(time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now), "p:x.y.v1:notice")
	w.now = w.now.Add(time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now), "p:x.y.v1:retired")
	w.now = w.now.Add(5 * time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	w.now = w.now.Add(5 * time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now), "p:x.y.v1:retired")
}

func TestRetirementFromBeforeStartIsAdopted(t *testing.T) {
	w := newWorld()
	tr := NewTracker(TrackerConfig{Idle: time.Second, Grace: time.Second, Resend: time.Minute})
	w.beat("p", "1.0.0", "p1", nil, []string{"x.y.v1"})
	expect(t, tr.Evaluate(w.reg.Graph(), w.now))
	if st := tr.Status(); len(st) != 1 || st[0].State != Gone {
		t.Fatalf("status = %+v", st)
	}
	w.beat("c", "1.0.0", "c1", nil, nil, landscape.River{Topic: "rivers", Types: []string{"x.y.v1"}})
	w.now = w.now.Add(time.Second)
	expect(t, tr.Evaluate(w.reg.Graph(), w.now), "p:x.y.v1:reinstated")
}
