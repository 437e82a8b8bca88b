package rivers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(t *testing.T, s *Service) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetricsMiddlewareRecordsOutcomes(t *testing.T) {
	s, err := NewService(Config{Name: "mw-metrics", Version: "1", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("boom")
	h := s.metricsMiddleware()(func(_ context.Context, ev Event, _ Publisher) error {
		if ev.ID() == "" {
			return fail
		}
		return nil
	})
	timer := withDelivery(context.Background(), &delivery{Delivery: Delivery{Timer: "flush"}})
	if err := h(timer, Event{}, nil); !errors.Is(err, fail) {
		t.Fatalf("the middleware changed the error: %v", err)
	}
	river := withDelivery(context.Background(), &delivery{Delivery: Delivery{River: "r", Type: "a.b.v1"},
		metrics: s.tel.riverMetrics("a.b.v1", "r")})
	_ = h(river, Event{}, nil)
	retired := s.metricsMiddleware()(func(context.Context, Event, Publisher) error { return ErrRetired })
	_ = retired(timer, Event{}, nil)
	out := scrape(t, s)
	for _, want := range []string{
		`watershed_timer_runs_total{outcome="error",timer="flush"} 1`,
		`watershed_timer_runs_total{outcome="ok",timer="flush"} 1`, // ErrRetired is not a failure
		`watershed_handler_duration_seconds_count{outcome="error",river="r",type="a.b.v1"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
