package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers/landscape"
	"github.com/watershed-grid/watershed/services/registry/registry"
)

func TestCompareTable(t *testing.T) {
	reg := landscape.New(time.Minute)
	reg.Observe(landscape.FromEvent(events.Heartbeat{Service: "billing-estimator", Version: "v1-interpolation", Instance: "b1"}), time.Now())
	c := registry.NewComparison(0)
	now := time.Now()
	c.Answered("n1", "billing-estimator", "v1-interpolation", "interpolation", 10.0, 20*time.Millisecond, now)
	c.Answered("n1", "billing-estimator", "v2-profile", "profile", 10.5, 40*time.Millisecond, now)
	c.Chose("billing-estimator", "v1-interpolation")
	c.TruedUp("n1", 10.4)
	m := chi.NewRouter()
	registry.MountCompare(m, reg, c)
	srv := httptest.NewServer(m)
	defer srv.Close()

	out, err := runCLI(t, "compare", "billing-estimator", "--registry", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SERVICE") {
		t.Fatalf("table:\n%s", out)
	}
	if got := strings.Join(strings.Fields(lines[1]), " "); got != "billing-estimator v1-interpolation interpolation 1 1 1 0.4000 -0.4000 20ms 20ms 1" {
		t.Errorf("v1 row: %q", got)
	}
	if got := strings.Join(strings.Fields(lines[2]), " "); got != "billing-estimator v2-profile profile 1 0 1 0.1000 0.1000 40ms 40ms 0" {
		t.Errorf("v2 row: %q", got)
	}
	if _, err := runCLI(t, "compare", "nobody", "--registry", srv.URL); err == nil || !strings.Contains(err.Error(), "no version of nobody") {
		t.Errorf("unknown service: %v", err)
	}
}
