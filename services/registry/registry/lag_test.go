package registry_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/registry/registry"
)

type lagKit struct {
	t       *testing.T
	svc     *rivers.Service
	k       *riverstest.Kit
	backlog riverstest.Backlog
}

func newLagKit(t *testing.T) *lagKit {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: registry.Name, Version: "1.0.0", Instance: "reg-1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := registry.DefaultConfig()
	cfg.InstanceTTL, cfg.ExpireInterval = 3*time.Second, time.Second
	if err := registry.Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	l := &lagKit{t: t, svc: svc}
	l.k = riverstest.New(t, svc, riverstest.WithBacklog(&l.backlog))
	return l
}

// beat sends a heartbeat of service-1 published and stored at at, with a
// use-by of three seconds.
func (l *lagKit) beat(service string, at time.Time) {
	l.t.Helper()
	e, err := contracts.New("/services/"+service, events.TypeHeartbeat, events.Heartbeat{Service: service, Version: "1.0.0",
		Instance: service + "-1", StartedAt: riverstest.Start, IntervalSeconds: 1, Ready: true})
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

func (l *lagKit) listed(service string) bool {
	rec := httptest.NewRecorder()
	l.svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/services/"+service, nil))
	return rec.Code == 200
}

func (l *lagKit) lagging() []events.MonitorLagging {
	var out []events.MonitorLagging
	for _, ev := range l.k.Published(events.TypeMonitorLagging) {
		var m events.MonitorLagging
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			l.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// Issue #12: the registry listed 4 of 14 running services: it dropped the
// instances whose heartbeats it had not read yet. Behind, it drops nobody;
// it says so, and catches up with heartbeats read late (expired or not).
func TestBehindRegistryDropsNobody(t *testing.T) {
	l := newLagKit(t)
	l.live(2*time.Second, "pulse", "steady")
	if !l.listed("pulse") {
		t.Fatal("pulse not listed")
	}
	l.backlog.Set(3000)
	lagStart := l.k.Now()
	for s := 1; s <= 30; s++ {
		l.k.Advance(time.Second)
		l.beat("steady", lagStart.Add(time.Duration(s)*100*time.Millisecond))
	}
	if !l.listed("pulse") {
		t.Fatal("pulse dropped while the registry was behind")
	}
	if lag := l.lagging(); len(lag) != 1 || lag[0].State != events.MonitorLaggingStateLagging || lag[0].Monitor != registry.Name {
		t.Fatalf("lagging events %+v, want one lagging", lag)
	}
	l.backlog.Set(0)
	for s := 1; s <= 30; s++ {
		l.beat("pulse", lagStart.Add(time.Duration(s)*time.Second))
		l.beat("steady", lagStart.Add(time.Duration(s)*time.Second))
	}
	l.live(10*time.Second, "pulse", "steady")
	if !l.listed("pulse") || !l.listed("steady") {
		t.Fatal("a live service dropped after the registry caught up")
	}
	if lag := l.lagging(); len(lag) != 2 || lag[1].State != events.MonitorLaggingStateRecovered || lag[1].Withheld < 1 {
		t.Fatalf("lagging events %+v, want lagging then recovered with withheld drops", lag)
	}
}

// A real silence, with the registry caught up, drops the instance after
// the TTL as before.
func TestSilenceWhileCaughtUpDrops(t *testing.T) {
	l := newLagKit(t)
	l.live(2*time.Second, "pulse", "steady")
	l.live(3*time.Second, "steady")
	if !l.listed("pulse") {
		t.Fatal("pulse dropped within the TTL")
	}
	for i := 0; i < 5 && l.listed("pulse"); i++ {
		l.live(time.Second, "steady")
	}
	if l.listed("pulse") || !l.listed("steady") {
		t.Fatalf("pulse listed %v, steady listed %v after pulse's silence: want false, true", l.listed("pulse"), l.listed("steady"))
	}
	if lag := l.lagging(); len(lag) != 0 {
		t.Errorf("lagging events %+v from a registry that was never behind", lag)
	}
}
