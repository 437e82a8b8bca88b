package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers/landscape"
	"github.com/watershed-grid/watershed/services/registry/registry"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestServicesTableAndJSON(t *testing.T) {
	reg := landscape.New(time.Minute)
	now := time.Now()
	reg.Observe(landscape.FromEvent(events.Heartbeat{Service: "usage-aggregator", Version: "1.2.0", Instance: "ua-1",
		Publishes: []string{events.TypeUsageInterval},
		Subscribes: []events.Subscription{
			{Types: []string{events.TypeMeterReading}, Topic: "rapids"},
			{Types: []string{events.TypeRetirement}, Topic: "rivers"},
		}}), now)
	reg.Observe(landscape.FromEvent(events.Heartbeat{Service: "usage-aggregator", Version: "1.2.0", Instance: "ua-2",
		Publishes: []string{events.TypeUsageInterval}}), now)
	reg.Observe(landscape.FromEvent(events.Heartbeat{Service: "archiver", Version: "0.9.0", Instance: "ar-1",
		Subscribes: []events.Subscription{{Types: []string{events.TypeUsageInterval}, Topic: "rivers", Passive: true}}}), now)
	srv := httptest.NewServer(registry.Routes(reg))
	defer srv.Close()

	out, err := runCLI(t, "services", "--registry", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SERVICE") {
		t.Fatalf("table:\n%s", out)
	}
	var ua, ar []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch f[0] {
		case "usage-aggregator":
			ua = f
		case "archiver":
			ar = f
		}
	}
	if strings.Join(ua, " ") != "usage-aggregator 1.2.0 2 usage.interval.v1 meter.reading.v1" {
		t.Fatalf("usage-aggregator row %q in\n%s", ua, out)
	}
	if strings.Join(ar, " ") != "archiver 0.9.0 1 - usage.interval.v1 (passive)" {
		t.Fatalf("archiver row %q in\n%s", ar, out)
	}

	out, err = runCLI(t, "services", "--registry", srv.URL, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Services []landscape.Service }
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Services) != 2 {
		t.Fatalf("--json: %v\n%s", err, out)
	}
}

func TestServicesRegistryDown(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	if _, err := runCLI(t, "services", "--registry", url); err == nil || !strings.Contains(err.Error(), "registry unreachable") {
		t.Fatalf("want a registry unreachable error, got %v", err)
	}
}

// A version under a retirement notice, or with a retired type, gets a line
// saying so under the table.
func TestServicesRetirementNotices(t *testing.T) {
	reg := landscape.New(time.Minute)
	at := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	reg.Observe(landscape.FromEvent(events.Heartbeat{Service: "usage-alerts", Version: "0.1.0", Instance: "ua-1",
		Publishes: []string{"usage.alert.v1"},
		Retiring:  []events.RetirementNotice{{Type: "usage.alert.v1", EffectiveAt: at, Reason: "no active subscriber"}},
		Retired:   []string{events.TypeMeterReadingLate}}), time.Now())
	srv := httptest.NewServer(registry.Routes(reg))
	defer srv.Close()
	out, err := runCLI(t, "services", "--registry", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"notice: usage-alerts 0.1.0 stops publishing usage.alert.v1 at 2026-12-06T15:00:00Z (no active subscriber) unless a service subscribes",
		"retired: usage-alerts 0.1.0 no longer publishes " + events.TypeMeterReadingLate,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
