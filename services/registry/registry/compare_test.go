package registry_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/registry/registry"
)

// Two versions answer the same needs; the registry counts their answers
// and choices, scores them against the true-up of the read that came
// later, and measures need → solution latency.
func TestCompareVersionsOfAService(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: registry.Name, Version: "1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.Register(svc, registry.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	kit := riverstest.New(t, svc)
	asked := kit.Now().Add(-2 * time.Second)
	send := func(typ, source string, at time.Time, data any) {
		e, err := contracts.New(source, typ, data)
		if err != nil {
			t.Fatal(err)
		}
		e.Time, e.ExpiryTime = at, kit.Now().Add(time.Hour)
		kit.Send(e)
	}
	solution := func(need, version, method string, register float64, latency time.Duration) {
		send(events.TypeEstimateSolution, "/services/billing-estimator", asked.Add(latency), events.EstimateSolution{
			NeedID: need, Asker: "billing-estimator", Solver: "billing-estimator", SolverVersion: version, AskedAt: asked,
			MeterID: "MTR-1", ExpectedAt: asked, Method: method, EnergyKWhTotal: register, EnergyKWh: 0.1, Confidence: 0.5})
	}
	solution("n1", "v1", "interpolation", 100.0, 100*time.Millisecond)
	solution("n1", "v2", "profile", 100.3, 300*time.Millisecond)
	solution("n2", "v1", "interpolation", 200.0, 200*time.Millisecond)
	solution("n2", "v2", "profile", 199.9, 500*time.Millisecond)
	solution("n3", "v1", "interpolation", 300.0, 100*time.Millisecond) // never trued up
	send(events.TypeMeterReadingEstimated, "/services/billing-estimator", kit.Now(), events.MeterReadingEstimated{
		MeterID: "MTR-1", TransformerID: "TX", FeederID: "F", ReadAt: asked, IntervalSeconds: 900, EnergyKWhTotal: 100,
		EnergyKWh: 0.1, Method: "interpolation", Confidence: 0.5, NeedID: "n1", Solver: "billing-estimator", SolverVersion: "v1", Candidates: 2})
	trueUp := func(need string, actual float64) {
		send(events.TypeMeterReadingAdjusted, "/services/billing-estimator", kit.Now(), events.MeterReadingAdjusted{
			MeterID: "MTR-1", ReadAt: asked, EstimatedEnergyKWhTotal: 0, ActualEnergyKWhTotal: actual, DeltaKWh: actual,
			Method: "interpolation", NeedID: need, Solver: "billing-estimator", SolverVersion: "v1"})
	}
	trueUp("n1", 100.2)
	trueUp("n2", 199.8)
	trueUp("n-unknown", 1)

	rec := httptest.NewRecorder()
	svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/compare/billing-estimator", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /v1/compare/billing-estimator: %d %s", rec.Code, rec.Body)
	}
	var got registry.ServiceComparison
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Versions) != 2 {
		t.Fatalf("versions = %+v, want v1 and v2", got.Versions)
	}
	v1, v2 := got.Versions[0], got.Versions[1]
	near := func(p *float64, want float64) bool { return p != nil && *p > want-1e-6 && *p < want+1e-6 }
	// v1: errors -0.2 and +0.2; v2: +0.1 and +0.1
	if v1.Version != "v1" || v1.Answers != 3 || v1.Chosen != 1 || v1.TruedUp != 2 || !near(v1.MeanAbsErrorKWh, 0.2) || !near(v1.MeanErrorKWh, 0) ||
		v1.MeanLatencyMS != 133.333 || v1.MaxLatencyMS != 200 || v1.Methods[0] != "interpolation" {
		t.Errorf("v1 = %+v", v1)
	}
	if v2.Version != "v2" || v2.Answers != 2 || v2.Chosen != 0 || v2.TruedUp != 2 || !near(v2.MeanAbsErrorKWh, 0.1) || !near(v2.MeanErrorKWh, 0.1) ||
		v2.MeanLatencyMS != 400 || v2.MaxLatencyMS != 500 {
		t.Errorf("v2 = %+v", v2)
	}
	rec = httptest.NewRecorder()
	svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/compare/nobody", nil))
	if rec.Code != 404 {
		t.Errorf("GET /v1/compare/nobody: %d, want 404", rec.Code)
	}
}
