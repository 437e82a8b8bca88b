package registry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rivers/landscape"
)

func fixture(now time.Time) *landscape.Registry {
	r := landscape.New(10 * time.Second)
	r.Observe(landscape.Heartbeat{Service: "reading-validator", Version: "v1.0.0", Instance: "rv-1",
		Publishes: []string{"meter.reading.validated.v1"},
		Rivers:    []landscape.River{{Topic: "rapids", Types: []string{"meter.reading.v1"}}}}, now)
	r.Observe(landscape.Heartbeat{Service: "reading-validator", Version: "v1.1.0", Instance: "rv-2",
		Publishes: []string{"meter.reading.validated.v1", "meter.reading.rejected.v1"},
		Rivers:    []landscape.River{{Topic: "rapids", Types: []string{"meter.reading.v1"}}}}, now)
	r.Observe(landscape.Heartbeat{Service: "reading-validator", Version: "v1.1.0", Instance: "rv-3",
		Publishes: []string{"meter.reading.validated.v1", "meter.reading.rejected.v1"}}, now.Add(-time.Second))
	r.Observe(landscape.Heartbeat{Service: "usage-aggregator", Version: "v0.3.0", Instance: "ua-1",
		Rivers: []landscape.River{{Topic: "rivers", Types: []string{"meter.reading.validated.v1"}}}}, now)
	r.Observe(landscape.Heartbeat{Service: "raw-archiver", Version: "v0.1.0", Instance: "ra-1",
		Rivers: []landscape.River{{Topic: "rivers", Types: []string{landscape.Wildcard}, Passive: true}}}, now)
	return r
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(Routes(fixture(time.Now())))
	defer srv.Close()
	get := func(path string, want int, into any) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
	var svcs struct{ Services []landscape.Service }
	get("/v1/services", 200, &svcs)
	if len(svcs.Services) != 3 || svcs.Services[0].Name != "raw-archiver" {
		t.Fatalf("services = %+v", svcs)
	}
	var one landscape.Service
	get("/v1/services/usage-aggregator", 200, &one)
	if one.Name != "usage-aggregator" || one.Versions[0].Subscribes[0].Types[0] != "meter.reading.validated.v1" {
		t.Fatalf("service = %+v", one)
	}
	var e map[string]string
	get("/v1/services/unknown", 404, &e)
	if e["error"] == "" {
		t.Fatal("404 without error message")
	}
	var types struct{ Types []landscape.Type }
	get("/v1/types", 200, &types)
	if len(types.Types) != 3 {
		t.Fatalf("types = %+v", types)
	}
	var g landscape.Graph
	get("/v1/graph", 200, &g)
	if len(g.Edges) == 0 || len(g.Nodes) != 4 {
		t.Fatalf("graph = %+v", g)
	}
}
