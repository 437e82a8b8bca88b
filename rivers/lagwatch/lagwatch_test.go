package lagwatch_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/lagwatch"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func lagging(t *testing.T, k *riverstest.Kit) []events.MonitorLagging {
	t.Helper()
	var out []events.MonitorLagging
	for _, ev := range k.Published(events.TypeMonitorLagging) {
		var m events.MonitorLagging
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestWatchSaysWhenItIsBehindAndWhenItRecovered(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: "watcher", Version: "1.0.0", Instance: "watcher-1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	w := lagwatch.Register(svc, lagwatch.Config{Tolerance: 2 * time.Second, Settle: 5 * time.Second, Every: time.Second})
	var backlog riverstest.Backlog
	k := riverstest.New(t, svc, riverstest.WithBacklog(&backlog))
	ping := func() {
		k.Send(k.Event(events.TypeServiceStopping, events.ServiceStopping{Service: "x", Version: "1.0.0", Instance: "x-1", Reason: "test"}))
	}
	ping()
	if at, ok := w.Judge(k.Now()); !ok || !at.Equal(k.Now()) {
		t.Fatalf("judge %v %v, want the newest record time %v and true", at, ok, k.Now())
	}

	// 500 records the watcher has not read: within the tolerance a batch
	// is being read, beyond it the watcher is behind.
	backlog.Set(500)
	ping()
	pos := k.Now()
	k.Advance(2 * time.Second)
	if got := lagging(t, k); len(got) != 0 {
		t.Fatalf("lagging within the tolerance: %+v", got)
	}
	k.Advance(time.Second)
	got := lagging(t, k)
	if len(got) != 1 || got[0].State != events.MonitorLaggingStateLagging || got[0].BehindRecords < 500 ||
		got[0].Monitor != "watcher" || got[0].Instance != "watcher-1" || !got[0].Position.Equal(pos) {
		t.Fatalf("lagging events %+v, want one lagging from %v", got, pos)
	}
	if _, ok := w.Judge(k.Now()); ok || !w.Lagging() {
		t.Error("judging while behind")
	}
	w.Withhold(2)

	// Read to the end: recovered after the settle time, not before.
	backlog.Set(0)
	ping()
	k.Advance(4 * time.Second)
	if _, ok := w.Judge(k.Now()); ok || len(lagging(t, k)) != 1 {
		t.Error("recovered before the settle time")
	}
	k.Advance(2 * time.Second)
	got = lagging(t, k)
	if len(got) != 2 || got[1].State != events.MonitorLaggingStateRecovered || got[1].Withheld != 2 ||
		got[1].BehindRecords != 0 || !got[1].LaggingSince.Equal(got[0].LaggingSince) {
		t.Fatalf("events %+v, want lagging then recovered with 2 withheld", got)
	}
	if _, ok := w.Judge(k.Now()); !ok || w.Lagging() {
		t.Error("not judging after recovery")
	}
}

func TestUpdateAndUndo(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: "watcher", Version: "1.0.0", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	w := lagwatch.New(svc, lagwatch.Config{})
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	if _, ok := w.Judge(t0); ok {
		t.Error("judging before reading anything")
	}
	w.ObserveRecord(0, t0.Add(-time.Minute), 40, t0)
	ev, change := w.Update(t0.Add(3 * time.Second))
	if !change || ev.State != events.MonitorLaggingStateLagging || ev.LagSeconds != 63 {
		t.Fatalf("update %+v %v, want lagging by 63s", ev, change)
	}
	if _, again := w.Update(t0.Add(4 * time.Second)); again {
		t.Error("a lag announced twice")
	}
	w.Undo(ev)
	if _, again := w.Update(t0.Add(4 * time.Second)); !again {
		t.Error("an undone announcement is not made again")
	}
}

// A sign of life read while another partition still has a backlog is
// recorded at its own record time, not at the position that backlog holds
// back: else a live instance is aged by another partition's backlog and
// declared down once it is read (issue #12's proof, restart run).
func TestSeenIsTheRecordTimeWhenThePositionIsHeldBack(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: "watcher", Version: "1.0.0", Instance: "watcher-1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	w := lagwatch.Register(svc, lagwatch.Config{Tolerance: time.Minute, Settle: time.Second, Every: time.Second})
	var seen, pos time.Time
	svc.Handle(rivers.NewRiver(events.TypeServiceStopping).Named("signs").Passive().Require("instance"),
		func(ctx context.Context, _ rivers.Event, _ rivers.Publisher) error {
			seen, pos = w.Seen(ctx), w.Position()
			return nil
		})
	k := riverstest.New(t, svc)
	held := k.Now()
	w.ObserveRecord(7, held, 500, k.Now()) // partition 7: 500 records behind one stamped held
	k.Advance(5 * time.Second)
	k.Send(k.Event(events.TypeServiceStopping, events.ServiceStopping{Service: "x", Version: "1.0.0", Instance: "x-1", Reason: "test"}))
	if !pos.Equal(held) {
		t.Fatalf("position %v, want it held back at %v by partition 7", pos, held)
	}
	if !seen.Equal(k.Now()) {
		t.Errorf("seen at %v, want the record's own time %v", seen, k.Now())
	}
}
