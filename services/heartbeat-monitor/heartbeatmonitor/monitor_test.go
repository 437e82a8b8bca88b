package heartbeatmonitor

import (
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) advance(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

func TestDownAfterMissedHeartbeatsThenReturn(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	m := NewMonitor(MonitorConfig{Misses: 3})
	b := Beat{Service: "gap-detector", Version: "1.0.0", Instance: "i1", Interval: time.Second}
	if tr := m.Beat(b, clk.t); len(tr) != 1 || tr[0].Kind != Up || tr[0].Reason != ReasonNew || !tr[0].NewService {
		t.Fatalf("first beat: %+v", tr)
	}
	for i := 0; i < 5; i++ {
		b.At = clk.advance(time.Second).Add(-10 * time.Millisecond)
		m.Beat(b, clk.t)
		if tr := m.Check(clk.t); len(tr) != 0 {
			t.Fatalf("healthy instance judged: %+v", tr)
		}
	}
	lastBeat := b.At
	clk.advance(3 * time.Second)
	if tr := m.Check(clk.t); len(tr) != 0 {
		t.Fatalf("down at exactly 3 intervals: %+v", tr)
	}
	downAt := clk.advance(100 * time.Millisecond)
	tr := m.Check(downAt)
	if len(tr) != 1 || tr[0].Kind != Down || tr[0].Instance != "i1" || tr[0].Missed != 3 || !tr[0].LastBeatAt.Equal(lastBeat) || tr[0].Remaining != 0 {
		t.Fatalf("down: %+v", tr)
	}
	if tr := m.Check(clk.advance(time.Second)); len(tr) != 0 {
		t.Fatalf("down reported twice: %+v", tr)
	}
	b.At = time.Time{}
	tr = m.Beat(b, clk.advance(time.Second))
	if len(tr) != 1 || tr[0].Kind != Up || tr[0].Reason != ReasonReturned || !tr[0].DownSince.Equal(downAt) || tr[0].NewService || !tr[0].FirstBeatAt.Equal(clk.t) {
		t.Fatalf("return: %+v", tr)
	}
	if st := m.Instances(); len(st) != 1 || st[0].State != Alive {
		t.Fatalf("instances: %+v", st)
	}
}

func TestNewInstanceAfterDownIsRestart(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	m := NewMonitor(MonitorConfig{Misses: 2, DefaultInterval: time.Second})
	m.Beat(Beat{Service: "registry", Version: "1.0.0", Instance: "old"}, clk.t)
	downAt := clk.advance(3 * time.Second)
	if tr := m.Check(downAt); len(tr) != 1 || tr[0].Kind != Down {
		t.Fatalf("down: %+v", tr)
	}
	tr := m.Beat(Beat{Service: "registry", Version: "1.1.0", Instance: "new"}, clk.advance(time.Second))
	if len(tr) != 1 || tr[0].Kind != Up || tr[0].Reason != ReasonRestart || tr[0].PreviousInstance != "old" ||
		tr[0].Version != "1.1.0" || tr[0].NewService || !tr[0].DownSince.Equal(downAt) {
		t.Fatalf("restart: %+v", tr)
	}
	if st := m.Instances(); len(st) != 1 || st[0].Instance != "new" {
		t.Fatalf("the replaced instance is still known: %+v", st)
	}
	if tr := m.Beat(Beat{Service: "clock-watch", Instance: "x"}, clk.t); len(tr) != 1 || tr[0].Reason != ReasonNew {
		t.Fatalf("other service: %+v", tr)
	}
}

func TestStoppedInstanceIsNotDownAndSuccessorIsRestart(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	m := NewMonitor(MonitorConfig{DefaultInterval: time.Second})
	m.Beat(Beat{Service: "s", Instance: "a"}, clk.t)
	m.Stopping("a", clk.advance(time.Second))
	if tr := m.Check(clk.advance(time.Minute)); len(tr) != 0 {
		t.Fatalf("stopped instance reported: %+v", tr)
	}
	tr := m.Beat(Beat{Service: "s", Instance: "b"}, clk.advance(time.Second))
	if len(tr) != 1 || tr[0].Reason != ReasonRestart || tr[0].PreviousInstance != "a" || !tr[0].DownSince.IsZero() {
		t.Fatalf("successor: %+v", tr)
	}
}

func TestSecondReplicaThenOneDies(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	m := NewMonitor(MonitorConfig{Misses: 3, DefaultInterval: time.Second})
	m.Beat(Beat{Service: "s", Instance: "a"}, clk.t)
	if tr := m.Beat(Beat{Service: "s", Instance: "b"}, clk.t); len(tr) != 1 || tr[0].Reason != ReasonStarted || tr[0].NewService {
		t.Fatalf("second replica: %+v", tr)
	}
	for i := 0; i < 5; i++ {
		m.Beat(Beat{Service: "s", Instance: "b"}, clk.advance(time.Second))
	}
	tr := m.Check(clk.t)
	if len(tr) != 1 || tr[0].Kind != Down || tr[0].Instance != "a" || tr[0].Remaining != 1 {
		t.Fatalf("replica down: %+v", tr)
	}
}

func TestForgetAfter(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	m := NewMonitor(MonitorConfig{DefaultInterval: time.Second, ForgetAfter: time.Minute})
	m.Beat(Beat{Service: "s", Instance: "a"}, clk.t)
	m.Check(clk.advance(10 * time.Second))
	m.Check(clk.advance(2 * time.Minute))
	if n := len(m.Instances()); n != 0 {
		t.Fatalf("%d instances remembered", n)
	}
	if tr := m.Beat(Beat{Service: "s", Instance: "b"}, clk.t); len(tr) != 1 || tr[0].Reason != ReasonStarted || tr[0].PreviousInstance != "" {
		t.Fatalf("after forget: %+v", tr)
	}
	if tr := m.Beat(Beat{Instance: "x"}, clk.t); tr != nil {
		t.Fatalf("beat without service accepted: %+v", tr)
	}
}
