package simulator

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func acks(t *testing.T, k *riverstest.Kit) map[string]events.MeterCommandAck {
	t.Helper()
	out := map[string]events.MeterCommandAck{}
	for _, e := range k.Published(events.TypeMeterCommandAck) {
		var a events.MeterCommandAck
		if err := json.Unmarshal(e.Data, &a); err != nil {
			t.Fatal(err)
		}
		out[a.CommandID] = a
	}
	return out
}

func TestMetersAnswerCommands(t *testing.T) {
	cfg := testConfig(200)
	cfg.Faults = []Fault{{Kind: FaultMissing, Rate: 0.05}}
	k, sim := newKit(t, cfg)
	for range 44 { // one grid hour
		k.Advance(Tick)
	}
	// The reads the network lost: the model's reads less the published.
	got := map[string]bool{}
	for _, r := range readings(t, k) {
		got[events.ReadingID(r.MeterID, r.ReadAt)] = true
	}
	var lost []events.MeterReading
	for _, m := range sim.Model().Fleet().Meters() {
		for slot := 1; slot <= 4; slot++ {
			at := riverstest.Start.Add(time.Duration(slot) * 15 * time.Minute)
			if !got[events.ReadingID(m.ID, at)] {
				lost = append(lost, events.MeterReading{MeterID: m.ID, ReadAt: at})
			}
		}
	}
	if len(lost) < 10 || len(lost) > 80 {
		t.Fatalf("%d reads lost of 800 at 5 %%", len(lost))
	}
	send := func(src string, c events.MeterCommand) {
		e, err := contracts.New(src, events.TypeMeterCommand, c)
		if err != nil {
			t.Fatal(err)
		}
		e.PartitionKey = c.MeterID
		k.Send(e)
	}
	cmd := func(id, meter, command string, p events.CommandParameters) events.MeterCommand {
		return events.MeterCommand{CommandID: id, MeterID: meter, Command: command, Parameters: p, IssuedAt: k.Now(),
			Attempt: 1, MaxAttempts: 3, AckTimeoutSeconds: 2, RequestedBy: "test"}
	}
	before := len(k.Published(events.TypeMeterReading))
	for i, l := range lost {
		send(DefaultCommandSource, cmd("R"+l.ReadAt.Format("1504")+l.MeterID, l.MeterID, events.CommandReadNow, events.CommandParameters{ReadAt: l.ReadAt}))
		if i == 0 {
			// Asked twice: the same reading again, same id.
			send(DefaultCommandSource, cmd("R2", l.MeterID, events.CommandReadNow, events.CommandParameters{ReadAt: l.ReadAt}))
		}
	}
	m0 := sim.Model().Fleet().Meters()[0].ID
	delivered := riverstest.Start.Add(15 * time.Minute)
	if !got[events.ReadingID(m0, delivered)] {
		delivered = delivered.Add(15 * time.Minute)
	}
	send(DefaultCommandSource, cmd("D1", m0, events.CommandReadNow, events.CommandParameters{ReadAt: delivered}))
	send(DefaultCommandSource, cmd("F1", m0, events.CommandReadNow, events.CommandParameters{ReadAt: riverstest.Start.Add(24 * time.Hour)}))
	send(DefaultCommandSource, cmd("M1", m0, events.CommandDisplayMessage, events.CommandParameters{Message: "hi"}))
	send(DefaultCommandSource, cmd("S1", m0, events.CommandSetInterval, events.CommandParameters{IntervalSeconds: 300}))
	send(DefaultCommandSource, cmd("X1", "MTR-NOT-OURS", events.CommandConnect, events.CommandParameters{}))
	send("/services/intruder", cmd("I1", m0, events.CommandDisconnect, events.CommandParameters{}))

	// Every lost read came back, under the id it would have had.
	recs := k.Published(events.TypeMeterReading)[before:]
	if len(recs) != len(lost)+1 {
		t.Fatalf("%d readings republished, want %d", len(recs), len(lost)+1)
	}
	for _, e := range recs {
		var r events.MeterReading
		if err := json.Unmarshal(e.Data, &r); err != nil {
			t.Fatal(err)
		}
		if e.ID != events.ReadingID(r.MeterID, r.ReadAt) || got[e.ID] {
			t.Errorf("republished %s at %s with id %s", r.MeterID, r.ReadAt, e.ID)
		}
		want, err := sim.Model().RegisterWh(r.MeterID, r.ReadAt)
		if err != nil || int64(r.EnergyKWhTotal*1000+0.5) != want {
			t.Errorf("%s at %s: register %v, model %d (%v)", r.MeterID, r.ReadAt, r.EnergyKWhTotal, want, err)
		}
	}
	a := acks(t, k)
	for _, l := range lost {
		if s := a["R"+l.ReadAt.Format("1504")+l.MeterID].Status; s != events.AckCompleted {
			t.Errorf("re-read of %s at %s: %q", l.MeterID, l.ReadAt, s)
		}
	}
	for id, want := range map[string]string{"D1": "failed:not in the meter's memory", "F1": "failed:not read yet",
		"M1": "completed:", "S1": "rejected:interval changes are not simulated"} {
		status, reason, _ := strings.Cut(want, ":")
		if a[id].Status != status || !strings.Contains(a[id].Reason, reason) {
			t.Errorf("%s: ack %+v, want %s", id, a[id], want)
		}
	}
	if _, ok := a["X1"]; ok {
		t.Error("a meter outside the fleet answered")
	}
	if _, ok := a["I1"]; ok {
		t.Error("a command from an unauthorised source was obeyed")
	}
	dl := k.DeadLetters()
	if len(dl) != 1 || !strings.Contains(dl[0].Error, "refused") {
		t.Errorf("dead letters %+v, want the intruder's command", dl)
	}
}

func TestCommandDropRate(t *testing.T) {
	cfg := testConfig(20)
	cfg.CommandDropRate = 0.5
	k, sim := newKit(t, cfg)
	m := sim.Model().Fleet().Meters()[0].ID
	for i := range 200 {
		e, err := contracts.New(DefaultCommandSource, events.TypeMeterCommand, events.MeterCommand{CommandID: "C" + string(rune('A'+i%26)) + time.Duration(i).String(),
			MeterID: m, Command: events.CommandConnect, IssuedAt: k.Now(), Attempt: 1 + i%3, MaxAttempts: 3, AckTimeoutSeconds: 1, RequestedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		e.PartitionKey = m
		k.Send(e)
	}
	if n := len(k.Published(events.TypeMeterCommandAck)); n < 70 || n > 130 {
		t.Errorf("%d of 200 commands answered at a drop rate of 0.5", n)
	}
}
