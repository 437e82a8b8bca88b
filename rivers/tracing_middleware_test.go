package rivers

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTracingMiddlewareSpansTimersAndRecordsErrors(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	s, err := NewService(Config{Name: "mw-tracing", Version: "1", LogLevel: "error"},
		WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))))
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("boom")
	h := s.tracingMiddleware()(func(context.Context, Event, Publisher) error { return fail })
	timer := withDelivery(context.Background(), &delivery{Delivery: Delivery{Timer: "flush"}})
	if err := h(timer, Event{}, nil); !errors.Is(err, fail) {
		t.Fatalf("the middleware changed the error: %v", err)
	}
	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Name() != "timer flush" || ended[0].Status().Code != codes.Error {
		t.Fatalf("spans %v: want one failed span named timer flush", ended)
	}
	// A river's handler runs inside the process span: the error lands there.
	ctx, span := s.tracing.tracer.Start(context.Background(), "process rivers")
	river := withDelivery(ctx, &delivery{Delivery: Delivery{River: "r"}})
	_ = h(river, Event{}, nil)
	span.End()
	ended = rec.Ended()
	if len(ended) != 2 || ended[1].Name() != "process rivers" || ended[1].Status().Description != "boom" {
		t.Errorf("spans %d, last %q status %v", len(ended), ended[len(ended)-1].Name(), ended[len(ended)-1].Status())
	}
}
