package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// meterSet is a MeterDirectory of fixed meters.
type meterSet map[string]bool

func (m meterSet) Known(_ context.Context, id string) (bool, error) { return m[id], nil }

func testConfig() Config {
	c := DefaultConfig()
	c.AckTimeout = 10 * time.Second
	c.Backoff = time.Second
	c.MaxBackoff = 4 * time.Second
	c.Tick = 100 * time.Millisecond
	return c
}

type fixture struct {
	*riverstest.Kit
	store *MemoryStore
}

func newFixture(t *testing.T, cfg Config) fixture {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	st := NewMemoryStore()
	if _, err := Attach(svc, cfg, st, meterSet{"MTR-1": true, "MTR-2": true}); err != nil {
		t.Fatal(err)
	}
	return fixture{Kit: riverstest.New(t, svc), store: st}
}

func (f fixture) request(r events.MeterCommandRequested) {
	e := f.Event(events.TypeMeterCommandRequested, r)
	e.PartitionKey = r.MeterID
	f.Send(e)
}

func (f fixture) ack(cmd events.MeterCommand, status, reason string) {
	e := f.Event(events.TypeMeterCommandAck, events.MeterCommandAck{CommandID: cmd.CommandID, MeterID: cmd.MeterID,
		Attempt: cmd.Attempt, Status: status, Reason: reason, AckedAt: f.Now()})
	e.PartitionKey = cmd.MeterID
	f.Send(e)
}

// advance moves the clock in ticks for d.
func (f fixture) advance(d time.Duration) {
	for step := 100 * time.Millisecond; d > 0; d -= step {
		f.Advance(step)
	}
}

func (f fixture) attempts(t *testing.T) []events.MeterCommand {
	t.Helper()
	var out []events.MeterCommand
	for _, e := range f.Published(events.TypeMeterCommand) {
		var c events.MeterCommand
		if err := json.Unmarshal(e.Data, &c); err != nil {
			t.Fatal(err)
		}
		if e.ID != AttemptID(c.CommandID, c.Attempt) || e.PartitionKey != c.MeterID || e.Source != Source {
			t.Errorf("attempt event id %q key %q source %q", e.ID, e.PartitionKey, e.Source)
		}
		out = append(out, c)
	}
	return out
}

func (f fixture) outcomes(t *testing.T) []events.MeterCommandOutcome {
	t.Helper()
	var out []events.MeterCommandOutcome
	for _, e := range f.Published(events.TypeMeterCommandOutcome) {
		var o events.MeterCommandOutcome
		if err := json.Unmarshal(e.Data, &o); err != nil {
			t.Fatal(err)
		}
		if e.ID != OutcomeID(o.CommandID) {
			t.Errorf("outcome event id %q", e.ID)
		}
		out = append(out, o)
	}
	return out
}

func TestAcknowledgedOnTheFirstAttempt(t *testing.T) {
	f := newFixture(t, testConfig())
	f.request(events.MeterCommandRequested{CommandID: "C1", MeterID: "MTR-1", Command: events.CommandDisplayMessage,
		Parameters: events.CommandParameters{Message: "hello"}, RequestedBy: "operator:t"})
	f.advance(200 * time.Millisecond)
	a := f.attempts(t)
	if len(a) != 1 || a[0].Attempt != 1 || a[0].MaxAttempts != 3 || a[0].AckTimeoutSeconds != 10 || a[0].Parameters.Message != "hello" {
		t.Fatalf("attempts %+v", a)
	}
	f.ack(a[0], events.AckCompleted, "")
	f.advance(200 * time.Millisecond)
	o := f.outcomes(t)
	if len(o) != 1 || o[0].Outcome != events.OutcomeAcknowledged || o[0].Attempts != 1 || o[0].AckStatus != events.AckCompleted {
		t.Fatalf("outcomes %+v", o)
	}
	// Nothing more, however long: no replay of an acknowledged command.
	f.advance(30 * time.Second)
	if n := len(f.attempts(t)); n != 1 {
		t.Errorf("%d attempts after the ack, want 1", n)
	}
	if n := len(f.outcomes(t)); n != 1 {
		t.Errorf("%d outcomes, want 1", n)
	}
}

func TestReplaysWithBackoffThenFails(t *testing.T) {
	f := newFixture(t, testConfig())
	f.request(events.MeterCommandRequested{CommandID: "C2", MeterID: "MTR-1", Command: events.CommandConnect, RequestedBy: "operator:t"})
	f.advance(200 * time.Millisecond)
	if n := len(f.attempts(t)); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
	// Attempt 1 waits 10 s, then 1 s of backoff; attempt 2 10 s + 2 s.
	f.advance(10*time.Second + 500*time.Millisecond)
	if n := len(f.attempts(t)); n != 1 {
		t.Fatalf("%d attempts before the backoff ended, want 1", n)
	}
	f.advance(700 * time.Millisecond)
	if n := len(f.attempts(t)); n != 2 {
		t.Fatalf("%d attempts after timeout + backoff, want 2", n)
	}
	f.advance(12*time.Second + 200*time.Millisecond)
	f.advance(14*time.Second + 400*time.Millisecond)
	a := f.attempts(t)
	if len(a) != 3 || a[2].Attempt != 3 || !a[2].IssuedAt.Equal(a[0].IssuedAt) {
		t.Fatalf("attempts %+v", a)
	}
	o := f.outcomes(t)
	if len(o) != 1 || o[0].Outcome != events.OutcomeFailed || o[0].Attempts != 3 || !strings.Contains(o[0].Reason, "no ack after 3 attempts") {
		t.Fatalf("outcomes %+v", o)
	}
	// A late ack changes nothing.
	f.ack(a[0], events.AckCompleted, "")
	f.advance(time.Second)
	if n := len(f.outcomes(t)); n != 1 {
		t.Errorf("%d outcomes after a late ack, want 1", n)
	}
	if n := f.Metric("watershed_command_acks_ignored_total", "reason", "decided"); n != 1 {
		t.Errorf("ignored acks %v, want 1", n)
	}
}

func TestRejectedFailsAtOnceFailedReplays(t *testing.T) {
	f := newFixture(t, testConfig())
	f.request(events.MeterCommandRequested{CommandID: "C3", MeterID: "MTR-1", Command: events.CommandSetInterval,
		Parameters: events.CommandParameters{IntervalSeconds: 300}, RequestedBy: "operator:t"})
	f.request(events.MeterCommandRequested{CommandID: "C4", MeterID: "MTR-2", Command: events.CommandDisconnect, RequestedBy: "operator:t"})
	f.advance(200 * time.Millisecond)
	a := f.attempts(t)
	if len(a) != 2 {
		t.Fatalf("attempts %+v", a)
	}
	for _, c := range a {
		if c.CommandID == "C3" {
			f.ack(c, events.AckRejected, "interval 300 s not supported")
		} else {
			f.ack(c, events.AckFailed, "relay stuck")
		}
	}
	f.advance(time.Second + 200*time.Millisecond) // C4's backoff after a failed ack: 1 s
	a = f.attempts(t)
	if len(a) != 3 || a[2].CommandID != "C4" || a[2].Attempt != 2 {
		t.Fatalf("attempts %+v, want C4 replayed", a)
	}
	o := f.outcomes(t)
	if len(o) != 1 || o[0].CommandID != "C3" || o[0].Outcome != events.OutcomeFailed || !strings.Contains(o[0].Reason, "interval 300 s not supported") {
		t.Fatalf("outcomes %+v", o)
	}
	f.ack(a[2], events.AckAccepted, "")
	f.advance(200 * time.Millisecond)
	o = f.outcomes(t)
	if len(o) != 2 || o[1].Outcome != events.OutcomeAcknowledged || o[1].Attempts != 2 {
		t.Fatalf("outcomes %+v", o)
	}
}

func TestExpiredPastItsUseBy(t *testing.T) {
	f := newFixture(t, testConfig())
	e := f.Event(events.TypeMeterCommandRequested, events.MeterCommandRequested{CommandID: "C5", MeterID: "MTR-1",
		Command: events.CommandReadNow, RequestedBy: "operator:t", MaxAttempts: 10})
	e.PartitionKey = "MTR-1"
	e.ExpiryTime = f.Now().Add(15 * time.Second)
	f.Send(e)
	f.advance(20 * time.Second)
	a := f.attempts(t)
	if len(a) != 2 {
		t.Fatalf("%d attempts before the use-by, want 2", len(a))
	}
	o := f.outcomes(t)
	if len(o) != 1 || o[0].Outcome != events.OutcomeExpired || o[0].Attempts != 2 || !strings.Contains(o[0].Reason, "use-by") {
		t.Fatalf("outcomes %+v", o)
	}
	if got := f.Published(events.TypeMeterCommand)[0].ExpiryTime; !got.Equal(e.ExpiryTime) {
		t.Errorf("attempt use-by %v, want the request's %v", got, e.ExpiryTime)
	}
}

func TestDuplicateRequestIsOneCommand(t *testing.T) {
	f := newFixture(t, testConfig())
	r := events.MeterCommandRequested{CommandID: "C6", MeterID: "MTR-1", Command: events.CommandReadNow, RequestedBy: "operator:t"}
	f.request(r)
	f.request(r) // another event (new ce_id), same command id
	f.advance(200 * time.Millisecond)
	if n := len(f.attempts(t)); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	if n := f.Metric("watershed_commands_requested_total", "result", "duplicate"); n != 1 {
		t.Errorf("duplicates %v, want 1", n)
	}
}

func TestMissedReadBecomesAReread(t *testing.T) {
	f := newFixture(t, testConfig())
	at := time.Date(2030, 1, 1, 10, 15, 0, 0, time.UTC)
	miss := func(meter string, consecutive int) {
		e := f.Event(events.TypeMeterReadingMissed, events.MeterReadingMissed{MeterID: meter, TransformerID: "TX-1", FeederID: "FD-1",
			ExpectedAt: at, IntervalSeconds: 900, GraceSeconds: 1800, ConsecutiveMissed: consecutive, DetectedAt: at.Add(30 * time.Minute)})
		e.PartitionKey = meter
		f.Send(e)
	}
	miss("MTR-7", 1) // the meter check does not apply: the gap detector saw the meter
	miss("MTR-7", 1) // declared again (a replay): the same command
	miss("MTR-8", 5) // a long silence: not re-read
	f.advance(200 * time.Millisecond)
	a := f.attempts(t)
	if len(a) != 1 || a[0].CommandID != RereadID("MTR-7", at) || a[0].Command != events.CommandReadNow ||
		!a[0].Parameters.ReadAt.Equal(at) || a[0].RequestedBy != Source {
		t.Fatalf("attempts %+v", a)
	}
	if n := f.Metric("watershed_commands_requested_total", "origin", "missed_read", "result", "skipped"); n != 1 {
		t.Errorf("skipped %v, want 1", n)
	}
}

func TestBadInputIsDeadLettered(t *testing.T) {
	f := newFixture(t, testConfig())
	f.request(events.MeterCommandRequested{CommandID: "C7", MeterID: "MTR-404", Command: events.CommandReadNow, RequestedBy: "operator:t"})
	f.request(events.MeterCommandRequested{CommandID: "C8", MeterID: "MTR-1", Command: events.CommandSetInterval, RequestedBy: "operator:t"})
	// An ack naming another meter than its command's.
	f.request(events.MeterCommandRequested{CommandID: "C9", MeterID: "MTR-1", Command: events.CommandReadNow, RequestedBy: "operator:t"})
	f.advance(200 * time.Millisecond)
	f.ack(events.MeterCommand{CommandID: "C9", MeterID: "MTR-2", Attempt: 1}, events.AckCompleted, "")
	dl := f.DeadLetters()
	if len(dl) != 3 {
		t.Fatalf("%d dead letters, want 3: %+v", len(dl), dl)
	}
	for i, want := range []string{"unknown meter MTR-404", "set_interval needs parameters.interval_s", "names meter MTR-2"} {
		if !strings.Contains(dl[i].Error, want) {
			t.Errorf("dead letter %d: %q, want it to say %q", i, dl[i].Error, want)
		}
	}
	if n := len(f.attempts(t)); n != 1 {
		t.Errorf("%d attempts, want 1 (C9 only)", n)
	}
	if _, err := f.store.Get(context.Background(), "C7"); !errors.Is(err, ErrNotFound) {
		t.Errorf("C7 stored: %v", err)
	}
}

func TestHeartbeatDeclaresWhatItPublishes(t *testing.T) {
	f := newFixture(t, testConfig())
	f.Advance(5 * time.Second)
	hb := f.Heartbeat()
	want := []string{events.TypeMeterCommandOutcome, events.TypeMeterCommand} // sorted
	if hb.Service != Name || strings.Join(hb.Publishes, ",") != strings.Join(want, ",") {
		t.Errorf("heartbeat publishes %v, want %v", hb.Publishes, want)
	}
	var types []string
	for _, s := range hb.Subscribes {
		types = append(types, s.Types...)
	}
	for _, want := range []string{events.TypeMeterCommandRequested, events.TypeMeterReadingMissed, events.TypeMeterCommandAck} {
		if !strings.Contains(strings.Join(types, ","), want) {
			t.Errorf("heartbeat subscribes %v, want %s", types, want)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("DISPATCHER_MAX_ATTEMPTS", "5")
	t.Setenv("DISPATCHER_ACK_TIMEOUT", "2s")
	t.Setenv("DISPATCHER_REREAD", "false")
	c, err := ConfigFromEnv()
	if err != nil || c.MaxAttempts != 5 || c.AckTimeout != 2*time.Second || c.Reread {
		t.Fatalf("ConfigFromEnv = %+v, %v", c, err)
	}
	t.Setenv("DISPATCHER_BACKOFF", "10m")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "DISPATCHER_BACKOFF_MAX") {
		t.Errorf("backoff above its max: %v", err)
	}
	t.Setenv("DISPATCHER_METER_CHECK", "registry")
	t.Setenv("DISPATCHER_BACKOFF", "")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "DISPATCHER_METER_CHECK") {
		t.Errorf("bad meter check: %v", err)
	}
	if got := (Config{Backoff: time.Second, MaxBackoff: 5 * time.Second}).backoff(4); got != 5*time.Second {
		t.Errorf("backoff(4) = %v, want the cap", got)
	}
}
