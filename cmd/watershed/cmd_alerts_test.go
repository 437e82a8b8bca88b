package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/alert-router/alertrouter"
)

// alertRouterAPI serves a real alert-router's HTTP API (in-memory store)
// with one firing outage.
func alertRouterAPI(t *testing.T) string {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: alertrouter.Name, HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := alertrouter.Attach(svc, alertrouter.Config{Store: alertrouter.StoreMemory, DLQInterval: -1}, alertrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Router.Observe(context.Background(), time.Now(), alertrouter.Input{ID: "e1", Type: events.TypeOutageSuspected,
		Source: "/services/outage-detector", Time: time.Now(), Fields: map[string]string{"outage_id": "OUT-1", "transformer_id": "TX-0042", "feeder_id": "FDR-07"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.HTTPHandler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAlertsListSilenceExpire(t *testing.T) {
	u := alertRouterAPI(t)
	out, err := runCLI(t, "alerts", "ls", "--url", u)
	if err != nil || !strings.Contains(out, "firing") || !strings.Contains(out, "suspected outage on transformer TX-0042") {
		t.Fatalf("alerts ls: %v\n%s", err, out)
	}
	out, err = runCLI(t, "alerts", "silence", `transformer_id="TX-0042"`, "--for", "1h", "--comment", "planned work", "--url", u)
	if err != nil || !strings.HasPrefix(out, "silence ") {
		t.Fatalf("alerts silence: %v\n%s", err, out)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	out, err = runCLI(t, "alerts", "ls", "--url", u)
	if err != nil || !strings.Contains(out, "silenced ("+id+")") {
		t.Fatalf("alerts ls after silence: %v\n%s", err, out)
	}
	out, err = runCLI(t, "alerts", "silences", "--url", u)
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "active") || !strings.Contains(out, "planned work") {
		t.Fatalf("alerts silences: %v\n%s", err, out)
	}
	if out, err = runCLI(t, "alerts", "expire", id, "--url", u); err != nil {
		t.Fatalf("alerts expire: %v\n%s", err, out)
	}
	out, _ = runCLI(t, "alerts", "ls", "--url", u)
	if strings.Contains(out, "silenced") {
		t.Errorf("still silenced after expire:\n%s", out)
	}
	out, err = runCLI(t, "alerts", "deliveries", "--url", u)
	if err != nil || !strings.Contains(out, "RECEIVER") {
		t.Errorf("alerts deliveries: %v\n%s", err, out)
	}
}

func TestAlertsErrorsSayWhatIsWrong(t *testing.T) {
	u := alertRouterAPI(t)
	if _, err := runCLI(t, "alerts", "silence", "transformer_id", "--comment", "x", "--url", u); err == nil || !strings.Contains(err.Error(), "want name=") {
		t.Errorf("bad matcher: %v", err)
	}
	if _, err := runCLI(t, "alerts", "silence", `a="b"`, "--url", u); err == nil || !strings.Contains(err.Error(), "--comment") {
		t.Errorf("no comment: %v", err)
	}
	if _, err := runCLI(t, "alerts", "expire", "nope", "--url", u); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown silence: %v", err)
	}
	if _, err := runCLI(t, "alerts", "ls", "--url", "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "alert-router unreachable") {
		t.Errorf("unreachable: %v", err)
	}
}
