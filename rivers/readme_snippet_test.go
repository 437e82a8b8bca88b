package rivers_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// The top README's service-team snippet is the code between the README
// markers below, verbatim: TestREADMESnippet fails when the two differ, and
// runs the code, so the snippet always compiles and does what it says.

// README:begin
func main() {
	rivers.Main("low-voltage", noConfig, rivers.Registers(register))
}

func noConfig() (struct{}, error) { return struct{}{}, nil }

func register(svc *rivers.Service, _ struct{}) error {
	svc.Publishes(events.TypeMeterReadingAnomalous) // a type in the catalog (contracts/)
	svc.Handle(rivers.NewRiver(events.TypeMeterReading).OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s",
			"energy_kwh_total", "demand_kw", "voltage_v").Interested("flags"),
		func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
			var r events.MeterReading
			if err := ev.Decode(&r); err != nil {
				return err // permanent: dead-lettered with its origin, the stream goes on
			}
			if r.VoltageVolts == 0 || r.VoltageVolts >= 207 { // 0 V is an outage; 207 V is 230 V − 10 %
				return nil
			}
			return pub.Publish(ctx, events.TypeMeterReadingAnomalous, events.MeterReadingAnomalous{
				MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
				ReadAt: r.ReadAt, ReadingEventID: ev.ID(), Reading: r, DetectedAt: ev.OccurredAt(),
				Rule: "under_voltage", Field: "voltage_v", Value: &r.VoltageVolts,
				Reason: fmt.Sprintf("supply voltage %.1f V is below 207 V", r.VoltageVolts),
			}) // derived: lineage, key and use-by set for you
		})
	return nil
}

// README:end

var _ = main // the snippet's main is compiled, not run

func TestREADMESnippet(t *testing.T) {
	src, err := os.ReadFile("readme_snippet_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, code, _ := strings.Cut(string(src), "// README:begin\n")
	code, _, _ = strings.Cut(code, "\n// README:end")
	code = strings.TrimSpace(code)
	if !strings.Contains(string(readme), "```go\n"+code+"\n```") {
		t.Fatalf("README.md's service-team snippet differs from the code between the README markers of rivers/readme_snippet_test.go; paste this into README.md:\n```go\n%s\n```", code)
	}

	// And it does what the README says.
	svc, err := rivers.NewService(testConfig("low-voltage"))
	if err != nil {
		t.Fatal(err)
	}
	if err := register(svc, struct{}{}); err != nil {
		t.Fatal(err)
	}
	kit := riverstest.New(t, svc)
	sendReading(kit, "MTR-LOW", 180)
	sendReading(kit, "MTR-OK", 231)
	sendReading(kit, "MTR-OUT", 0)
	got := kit.Published(events.TypeMeterReadingAnomalous)
	if len(got) != 1 || got[0].PartitionKey != "MTR-LOW" {
		t.Fatalf("anomalies %+v, want one for MTR-LOW", got)
	}
	if n := len(kit.DeadLetters()); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// The trap the README's old snippet set: declaring a type that is not in
// the catalog. The service now refuses to start and says what to do,
// instead of dead-lettering every event that leads to a Publish.
func TestPublishingAnUnknownTypeFailsAtStart(t *testing.T) {
	svc, err := rivers.NewService(testConfig("usage-alerts"))
	if err != nil {
		t.Fatal(err)
	}
	svc.Publishes("usage.alert.v1", events.TypeMeterReadingAnomalous)
	err = svc.Serve(context.Background(), riverstest.NewBus())
	if err == nil || !strings.Contains(err.Error(), "publishes usage.alert.v1, which no schema describes: add contracts/schemas/usage.alert.v1.json") ||
		strings.Contains(err.Error(), events.TypeMeterReadingAnomalous) {
		t.Fatalf("Serve = %v, want a start error naming usage.alert.v1 and the schema to add", err)
	}
}
