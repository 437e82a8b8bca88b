package heartbeatmonitor_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/heartbeat-monitor/heartbeatmonitor"
)

// lagKit serves a heartbeat monitor whose read progress a test controls.
type lagKit struct {
	t       *testing.T
	k       *riverstest.Kit
	backlog riverstest.Backlog
	started time.Time
}

func newLagKit(t *testing.T) *lagKit {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: heartbeatmonitor.Name, Version: "1.0.0", Instance: "hm-1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if err := heartbeatmonitor.Register(svc, heartbeatmonitor.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	l := &lagKit{t: t}
	l.k = riverstest.New(t, svc, riverstest.WithBacklog(&l.backlog))
	l.started = l.k.Now()
	return l
}

// beat sends a heartbeat of service's instance service-1 (interval 1s)
// published at at, stored by the broker then, and with the SDK's use-by of
// three intervals: read later than that, it has expired.
func (l *lagKit) beat(service string, at time.Time) {
	l.t.Helper()
	e, err := contracts.New("/services/"+service, events.TypeHeartbeat, events.Heartbeat{Service: service, Version: "1.0.0",
		Instance: service + "-1", StartedAt: l.started, UptimeSeconds: at.Sub(l.started).Seconds(), IntervalSeconds: 1, Ready: true})
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

// live runs d of wall time, one second at a time, with the given services
// beating every second, read at once.
func (l *lagKit) live(d time.Duration, services ...string) {
	for end := l.k.Now().Add(d); l.k.Now().Before(end); {
		l.k.Advance(time.Second)
		for _, s := range services {
			l.beat(s, l.k.Now())
		}
	}
}

// count counts the events of typ about pulse.
func (l *lagKit) count(typ string) int {
	n := 0
	for _, ev := range l.k.Published(typ) {
		var p struct {
			Service string `json:"service"`
		}
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			l.t.Fatal(err)
		}
		if p.Service == "pulse" {
			n++
		}
	}
	return n
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

// Issue #12: heartbeats that expired before the monitor read them made it
// declare live services down. A monitor that is behind withholds its down
// verdicts and says it is lagging; the heartbeats it reads late, expired
// or not, keep the instance alive; it says when it recovered. "steady" is
// the rest of the ecosystem: its heartbeats keep the stream moving.
func TestBehindMonitorWithholdsDownAndSaysSo(t *testing.T) {
	l := newLagKit(t)
	l.live(3*time.Second, "pulse", "steady")
	if n := l.count(events.TypeServiceUp); n != 1 {
		t.Fatalf("%d up events for pulse, want 1", n)
	}

	// The monitor falls 5,000 records behind: for 30 s it reads only old
	// records (steady's, from the first seconds of the lag), none of
	// pulse's heartbeats.
	l.backlog.Set(5000)
	lagStart := l.k.Now()
	for s := 1; s <= 30; s++ {
		l.k.Advance(time.Second)
		l.beat("steady", lagStart.Add(time.Duration(s)*100*time.Millisecond))
	}
	if n := l.count(events.TypeServiceDown); n != 0 {
		t.Fatalf("%d down verdicts for pulse while behind", n)
	}
	lag := l.lagging()
	if len(lag) != 1 || lag[0].State != events.MonitorLaggingStateLagging || lag[0].Monitor != heartbeatmonitor.Name ||
		lag[0].BehindRecords < 5000 || lag[0].LagSeconds < 2 {
		t.Fatalf("lagging events %+v, want one lagging, 5000 records and 2+ s behind", lag)
	}

	// It catches up: the heartbeats of the last 30 s come in a burst with
	// their old record times, most of them past their use-by date.
	l.backlog.Set(0)
	for s := 1; s <= 30; s++ {
		at := lagStart.Add(time.Duration(s) * time.Second)
		l.beat("pulse", at)
		l.beat("steady", at)
	}
	l.live(10*time.Second, "pulse", "steady")
	if n := l.count(events.TypeServiceDown); n != 0 {
		t.Fatalf("%d down verdicts for pulse after catching up: it beat all along", n)
	}
	lag = l.lagging()
	if len(lag) != 2 || lag[1].State != events.MonitorLaggingStateRecovered || lag[1].Withheld < 2 {
		t.Fatalf("lagging events %+v, want lagging then recovered, pulse's and steady's verdicts withheld", lag)
	}
	if n := l.count(events.TypeServiceUp); n != 1 {
		t.Errorf("%d up events for pulse, want 1: it never went down", n)
	}
}

// A real silence, with the monitor caught up, is a down as before.
func TestSilenceWhileCaughtUpIsDown(t *testing.T) {
	l := newLagKit(t)
	l.live(3*time.Second, "pulse", "steady")
	for i := 0; i < 10 && l.count(events.TypeServiceDown) == 0; i++ {
		l.live(time.Second, "steady")
	}
	var downs []events.ServiceDown
	for _, ev := range l.k.Published(events.TypeServiceDown) {
		var d events.ServiceDown
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		downs = append(downs, d)
	}
	if len(downs) != 1 || downs[0].Instance != "pulse-1" || downs[0].MissedHeartbeats < 3 {
		t.Fatalf("down events %+v after 10 s of pulse's silence, want pulse-1 once", downs)
	}
	if !downs[0].DetectedAt.Before(downs[0].LastHeartbeatAt.Add(6 * time.Second)) {
		t.Errorf("down %+v: later than one check after 3 missed intervals", downs[0])
	}
	if lag := l.lagging(); len(lag) != 0 {
		t.Errorf("lagging events %+v from a monitor that was never behind", lag)
	}
}

// An instance whose every heartbeat is read after its use-by date (a slow
// path between it and the monitor) is still seen starting: the late
// heartbeats are evidence of life, announced up at the next check, once.
func TestInstanceReadOnlyLateIsUp(t *testing.T) {
	l := newLagKit(t)
	l.live(3*time.Second, "steady")
	for s := 0; s < 5; s++ {
		l.k.Advance(time.Second)
		l.beat("steady", l.k.Now())
		l.beat("pulse", l.k.Now().Add(-4*time.Second)) // expired when read
	}
	if n := l.count(events.TypeServiceUp); n != 1 {
		t.Fatalf("%d up events for pulse, want 1 from its late heartbeats", n)
	}
	if n := l.count(events.TypeServiceDown); n != 0 {
		t.Fatalf("%d down events for pulse: it beat all along", n)
	}
	if len(l.k.Published(events.TypeServiceUp)) < 2 {
		t.Fatalf("steady's up is missing: %d up events", len(l.k.Published(events.TypeServiceUp)))
	}
}
