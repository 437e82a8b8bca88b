package rivers

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracingMiddleware records a handler's failure on the consumer span, and
// gives each timer run a span of its own ("timer <name>"), the parent of
// what it publishes.
func (s *Service) tracingMiddleware() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, ev Event, pub Publisher) error {
			span := trace.SpanFromContext(ctx)
			if d, ok := DeliveryFrom(ctx); ok && d.Timer != "" && s.tracing.recording {
				ctx, span = s.tracing.tracer.Start(ctx, "timer "+d.Timer, trace.WithSpanKind(trace.SpanKindInternal))
				defer span.End()
			}
			err := next(ctx, ev, pub)
			if err != nil && !isRetired(err) && span.IsRecording() {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return err
		}
	}
}
