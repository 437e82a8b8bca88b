package hotpond

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// requireEnv returns the variable's value, or ends the test: Skip when it
// is unset, Fatal when it is unset and CI=true (CI provides the servers).
func requireEnv(t testing.TB, name string) string {
	t.Helper()
	return riverstest.RequireServer(t, name, "real Redis")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func TestConfigFromEnvNamesTheVariable(t *testing.T) {
	t.Setenv("REDIS_URL", "http://127.0.0.1:6379")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Fatalf("error %v does not name REDIS_URL", err)
	}
	t.Setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
	t.Setenv(EnvDedup, "maybe")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), EnvDedup) {
		t.Fatalf("error %v does not name %s", err, EnvDedup)
	}
}

// TestHotPond runs the service on real Redis with the Redis duplicate
// store: the latest reading per meter is the newest read_at even when a
// late read arrives after it, the window holds each reading once, the
// transformer view has every meter, a duplicate delivery is dropped and
// does not write twice, and an invalid reading is dead-lettered.
func TestHotPond(t *testing.T) {
	url := requireEnv(t, "WATERSHED_TEST_REDIS")
	prefix := "ws:test-" + randomHex(4) + ":"
	h, err := New(Config{Redis: hot.Config{URL: url}, Dedup: true, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	defer func() {
		keys, _ := h.client.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			h.client.Del(ctx, keys...)
		}
	}()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "warn"},
		rivers.WithDedupStore(h.DedupStore()))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Register(svc); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	kit := riverstest.New(t, svc, riverstest.WithClock(riverstest.NewClock(now)))
	send := func(meter, tx string, at time.Time, kwh float64) contracts.Event {
		e := kit.Event(events.TypeMeterReading, events.MeterReading{MeterID: meter, TransformerID: tx, FeederID: "FDR-1",
			ReadAt: at, IntervalSeconds: 900, EnergyKWhTotal: kwh, DemandKW: 1, VoltageVolts: 230})
		e.PartitionKey, e.ExpiryTime = meter, now.Add(2*time.Hour)
		kit.Send(e, riverstest.OnTopic(rivers.Rapids))
		return e
	}
	t0 := now.Add(-time.Hour)
	send("MTR-1", "TX-1", t0, 10)
	newest := send("MTR-1", "TX-1", t0.Add(30*time.Minute), 12)
	send("MTR-1", "TX-1", t0.Add(15*time.Minute), 11) // late
	dup := send("MTR-2", "TX-1", t0, 20)
	kit.Send(dup, riverstest.OnTopic(rivers.Rapids)) // delivered again

	l, err := h.Pond().Latest(ctx, "MTR-1")
	if err != nil {
		t.Fatal(err)
	}
	if !l.ReadAt.Equal(t0.Add(30*time.Minute)) || l.EnergyKWhTotal != 12 || l.EventID != newest.ID {
		t.Fatalf("latest of MTR-1 = %+v, want the 12 kWh read of %v", l, t0.Add(30*time.Minute))
	}
	win, err := h.Pond().Window(ctx, "MTR-1", t0, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(win) != 3 || win[0].EnergyKWhTotal != 10 || win[1].EnergyKWhTotal != 11 || win[2].EnergyKWhTotal != 12 {
		t.Fatalf("window of MTR-1 = %+v", win)
	}
	if w2, _ := h.Pond().Window(ctx, "MTR-2", t0, now); len(w2) != 1 {
		t.Fatalf("window of MTR-2 after a duplicate delivery: %d readings, want 1", len(w2))
	}
	if n := kit.Metric("watershed_events_duplicate_total"); n != 1 {
		t.Errorf("duplicates dropped = %v, want 1", n)
	}

	// The read API.
	srv := httptest.NewServer(svc.HTTPHandler())
	defer srv.Close()
	var tx []hot.Reading
	getJSON(t, srv.URL+"/v1/transformers/TX-1", http.StatusOK, &tx)
	if len(tx) != 2 || tx[0].MeterID != "MTR-1" || tx[0].EnergyKWhTotal != 12 || tx[1].MeterID != "MTR-2" {
		t.Fatalf("transformer view %+v", tx)
	}
	var fd []hot.Reading
	getJSON(t, srv.URL+"/v1/feeders/FDR-1", http.StatusOK, &fd)
	if len(fd) != 2 {
		t.Fatalf("feeder view %+v", fd)
	}
	var lr hot.Reading
	getJSON(t, srv.URL+"/v1/meters/MTR-1/latest", http.StatusOK, &lr)
	if lr.EnergyKWhTotal != 12 {
		t.Fatalf("GET latest %+v", lr)
	}
	var wr []hot.Reading
	getJSON(t, srv.URL+"/v1/meters/MTR-1/window?from="+t0.Format(time.RFC3339)+"&to="+t0.Add(20*time.Minute).Format(time.RFC3339), http.StatusOK, &wr)
	if len(wr) != 2 {
		t.Fatalf("GET window: %d readings, want 2", len(wr))
	}
	getJSON(t, srv.URL+"/v1/meters/MTR-404/latest", http.StatusNotFound, nil)
	getJSON(t, srv.URL+"/v1/meters/MTR-1/window?from=yesterday", http.StatusBadRequest, nil)

	// An invalid reading is dead-lettered; the next one is written.
	bad := kit.Event(events.TypeMeterReading, map[string]any{"meter_id": "MTR-3", "read_at": t0.Format(time.RFC3339), "energy_kwh_total": -1})
	kit.Send(bad, riverstest.OnTopic(rivers.Rapids))
	send("MTR-3", "TX-2", t0, 5)
	if dl := kit.DeadLetters(); len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	if l3, err := h.Pond().Latest(ctx, "MTR-3"); err != nil || l3.EnergyKWhTotal != 5 {
		t.Fatalf("MTR-3 latest %+v, %v", l3, err)
	}
}

func getJSON(t *testing.T, url string, status int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, status)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}
