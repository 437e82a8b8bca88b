package simulator

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func newKit(t *testing.T, cfg Config) (*riverstest.Kit, *Simulator) {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off"},
		rivers.WithValidator(rivers.Validators(catalog.Default(), Schemas())))
	if err != nil {
		t.Fatal(err)
	}
	bus := riverstest.NewBus()
	sim, err := newSimulator(svc, cfg, bus.Publish)
	if err != nil {
		t.Fatal(err)
	}
	return riverstest.New(t, svc, riverstest.WithBus(bus)), sim
}

func testConfig(meters int) Config {
	c := DefaultConfig()
	c.Fleet.Meters = meters
	c.Start = riverstest.Start
	return c
}

// readings decodes what the kit's service published on the rapids.
func readings(t *testing.T, k *riverstest.Kit) []events.MeterReading {
	t.Helper()
	var out []events.MeterReading
	for _, e := range k.Published(events.TypeMeterReading) {
		var r events.MeterReading
		if err := json.Unmarshal(e.Data, &r); err != nil {
			t.Fatal(err)
		}
		if e.PartitionKey != r.TransformerID || e.Source != Source {
			t.Fatalf("event key %q source %q for %s", e.PartitionKey, e.Source, r.MeterID)
		}
		out = append(out, r)
	}
	return out
}

func TestServicePacedOnGridClock(t *testing.T) {
	k, sim := newKit(t, testConfig(100))
	// 900× speed: 4.4 wall seconds are 66 grid minutes: four 15-minute
	// reads, the last uploaded less than 5 minutes after 01:00.
	for range 44 {
		k.Advance(Tick)
	}
	rs := readings(t, k)
	if len(rs) != 400 {
		t.Fatalf("%d readings after one grid hour, want 400", len(rs))
	}
	if got := sim.GridNow(); !got.Equal(riverstest.Start.Add(66 * time.Minute)) {
		t.Errorf("grid now %s", got)
	}
	// The registers are the model's.
	for _, r := range rs {
		want, err := sim.Model().RegisterWh(r.MeterID, r.ReadAt)
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(math.Round(r.EnergyKWhTotal * 1000)); got != want {
			t.Fatalf("%s at %s: %d Wh, model %d", r.MeterID, r.ReadAt, got, want)
		}
	}
	// Records go to the rapids topic.
	if n := len(k.PublishedRecords(rivers.Rapids)); n < 400 {
		t.Errorf("%d records on the rapids", n)
	}
}

func TestServiceFaultCommand(t *testing.T) {
	k, sim := newKit(t, testConfig(60))
	k.Advance(Tick) // first tick starts the grid clock
	cmd := k.Event(TypeFault, FaultCommand{Kind: FaultOutage, Target: "TX-00002", DurationS: 7200})
	cmd.PartitionKey = "TX-00002"
	k.Send(cmd)
	if faults := sim.gen.Faults(); len(faults) != 1 || faults[0].Target != "TX-00002" {
		t.Fatalf("faults %+v", faults)
	}
	for range 40 {
		k.Advance(Tick)
	}
	silent := map[string]bool{}
	for _, id := range sim.Model().Fleet().MetersOf("TX-00002") {
		silent[id] = true
	}
	n := 0
	for _, r := range readings(t, k) {
		if silent[r.MeterID] && r.ReadAt.After(riverstest.Start.Add(15*time.Minute)) {
			t.Fatalf("%s read at %s during its outage", r.MeterID, r.ReadAt)
		}
		n++
	}
	if n == 0 {
		t.Fatal("nothing published")
	}
	// A bad command is dead-lettered, and the service goes on.
	bad := k.Event(TypeFault, map[string]any{"kind": "stuck", "target": "TX-77777"})
	k.Send(bad)
	if len(k.DeadLetters()) != 1 {
		t.Fatalf("%d dead letters", len(k.DeadLetters()))
	}
}

func TestServiceMaxRate(t *testing.T) {
	cfg := testConfig(50)
	cfg.Rate = RateMax
	cfg.End = riverstest.Start.Add(2 * time.Hour)
	k, _ := newKit(t, cfg)
	for range 12 {
		k.Advance(Tick)
	}
	if n := len(readings(t, k)); n != 50*8 {
		t.Fatalf("%d readings, want %d (2 grid hours, then stop)", n, 50*8)
	}
}

// A fault changes what the fleet does: with a trust list, an unsigned one
// is dead-lettered as unauthorised and injects nothing; the operator's
// signed one does.
func TestServiceFaultCommandNeedsATrustedSigner(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off",
		ControlTrust: []rivers.TrustedKey{{ID: "operator", PublicKey: pub, Types: []string{TypeFault}}}},
		rivers.WithValidator(rivers.Validators(catalog.Default(), Schemas())))
	if err != nil {
		t.Fatal(err)
	}
	bus := riverstest.NewBus()
	sim, err := newSimulator(svc, testConfig(60), bus.Publish)
	if err != nil {
		t.Fatal(err)
	}
	k := riverstest.New(t, svc, riverstest.WithBus(bus))
	k.Advance(Tick)
	send := func(sign bool) {
		cmd := k.Event(TypeFault, FaultCommand{Kind: FaultOutage, Target: "TX-00002", DurationS: 7200})
		cmd.PartitionKey = "TX-00002"
		m, err := contracts.EncodeBinary(cmd)
		if err != nil {
			t.Fatal(err)
		}
		rec := rivers.Record{Key: m.Key, Value: m.Value, Headers: m.Headers}
		if sign {
			rivers.SignControl(&rec, "operator", key)
		}
		k.SendRecord(rec)
	}
	send(false)
	if faults := sim.gen.Faults(); len(faults) != 0 {
		t.Fatalf("an unsigned fault was injected: %+v", faults)
	}
	if dls := k.DeadLetters(); len(dls) != 1 || dls[0].Class != rivers.ClassUnauthorised {
		t.Fatalf("dead letters %+v, want one unauthorised", dls)
	}
	send(true)
	if faults := sim.gen.Faults(); len(faults) != 1 || faults[0].Target != "TX-00002" {
		t.Fatalf("the operator's signed fault: faults %+v", faults)
	}
}
