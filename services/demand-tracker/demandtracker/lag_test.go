package demandtracker_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/demand-tracker/demandtracker"
)

type lagKit struct {
	t       *testing.T
	svc     *rivers.Service
	k       *riverstest.Kit
	backlog riverstest.Backlog
}

func newLagKit(t *testing.T) *lagKit {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: demandtracker.Name, Version: "1.0.0", Instance: "dt-1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := demandtracker.DefaultConfig()
	cfg.Idle, cfg.Grace, cfg.Evaluate, cfg.InstanceTTL = 3*time.Second, 3*time.Second, time.Second, 3*time.Second
	if err := demandtracker.Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	l := &lagKit{t: t, svc: svc}
	l.k = riverstest.New(t, svc, riverstest.WithBacklog(&l.backlog))
	return l
}

// beat sends a heartbeat published and stored at at: "prod" publishes the
// produced type, "cons" subscribes to it actively.
func (l *lagKit) beat(service string, at time.Time) {
	l.t.Helper()
	hb := events.Heartbeat{Service: service, Version: "1.0.0", Instance: service + "-1", StartedAt: riverstest.Start,
		IntervalSeconds: 1, Ready: true}
	switch service {
	case "prod":
		hb.Publishes = []string{produced}
	case "cons":
		hb.Subscribes = []events.Subscription{{Types: []string{produced}, Topic: "rivers"}}
	}
	e, err := contracts.New("/services/"+service, events.TypeHeartbeat, hb)
	if err != nil {
		l.t.Fatal(err)
	}
	e.Time, e.ExpiryTime, e.PartitionKey = at, at.Add(3*time.Second), service
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		l.t.Fatal(err)
	}
	l.k.SendRecord(rivers.Record{Key: m.Key, Value: m.Value, Headers: m.Headers, Time: at})
}

func (l *lagKit) live(d time.Duration, services ...string) {
	for end := l.k.Now().Add(d); l.k.Now().Before(end); {
		l.k.Advance(time.Second)
		for _, s := range services {
			l.beat(s, l.k.Now())
		}
	}
}

func (l *lagKit) report() demandtracker.Report {
	rec := httptest.NewRecorder()
	l.svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/demand", nil))
	var r demandtracker.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		l.t.Fatal(err)
	}
	return r
}

func (l *lagKit) subscribers() int {
	for _, ty := range l.report().Types {
		if ty.Type == produced {
			return ty.Active
		}
	}
	return -1
}

// Issue #12: demand-tracker's /v1/demand went empty, and a tracker that has
// not read its subscribers' heartbeats would retire what they consume.
// Behind, it decides nothing, keeps its view and says it is lagging.
func TestBehindTrackerRetiresNothing(t *testing.T) {
	l := newLagKit(t)
	l.live(2*time.Second, "prod", "cons")
	if n := l.subscribers(); n != 1 {
		t.Fatalf("%d active subscribers of %s, want 1", n, produced)
	}
	l.backlog.Set(2000)
	lagStart := l.k.Now()
	for s := 1; s <= 30; s++ {
		l.k.Advance(time.Second)
		l.beat("prod", lagStart.Add(time.Duration(s)*100*time.Millisecond))
	}
	if n := len(l.k.Published(events.TypeRetirement)); n != 0 {
		t.Fatalf("%d retirement decisions while behind", n)
	}
	if r := l.report(); !r.Lagging || l.subscribers() != 1 {
		t.Fatalf("report while behind: lagging %v, %d subscribers; want true, 1", r.Lagging, l.subscribers())
	}
	l.backlog.Set(0)
	for s := 1; s <= 30; s++ {
		l.beat("prod", lagStart.Add(time.Duration(s)*time.Second))
		l.beat("cons", lagStart.Add(time.Duration(s)*time.Second))
	}
	l.live(10*time.Second, "prod", "cons")
	if n := len(l.k.Published(events.TypeRetirement)); n != 0 {
		t.Fatalf("%d retirement decisions after catching up, the subscriber was there all along", n)
	}
	if r := l.report(); r.Lagging || l.subscribers() != 1 {
		t.Fatalf("report after catching up: lagging %v, %d subscribers; want false, 1", r.Lagging, l.subscribers())
	}
	var lag []string
	for _, ev := range l.k.Published(events.TypeMonitorLagging) {
		var m events.MonitorLagging
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			t.Fatal(err)
		}
		lag = append(lag, m.State)
	}
	if len(lag) != 2 || lag[0] != events.MonitorLaggingStateLagging || lag[1] != events.MonitorLaggingStateRecovered {
		t.Errorf("lagging events %v, want lagging, recovered", lag)
	}
}

// The subscriber really goes away, the tracker caught up: notice as before.
func TestSubscriberGoneWhileCaughtUpIsNoticed(t *testing.T) {
	l := newLagKit(t)
	l.live(2*time.Second, "prod", "cons")
	for i := 0; i < 15 && len(l.k.Published(events.TypeRetirement)) == 0; i++ {
		l.live(time.Second, "prod")
	}
	got := l.k.Published(events.TypeRetirement)
	if len(got) == 0 {
		t.Fatal("no retirement notice after the only subscriber went away")
	}
	var r events.Retirement
	if err := json.Unmarshal(got[0].Data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Service != "prod" || r.EventType != produced || r.Phase != string(demandtracker.Notice) {
		t.Errorf("retirement %+v, want a notice to prod for %s", r, produced)
	}
}
