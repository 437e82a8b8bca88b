package rivers

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/watershed-grid/watershed/contracts"
)

// Trace exporters selectable with OTEL_TRACES_EXPORTER.
const (
	TracesNone    = "none"    // default: no spans are recorded; trace context still flows through
	TracesOTLP    = "otlp"    // OTLP over HTTP/protobuf; OTEL_EXPORTER_OTLP_* configure it
	TracesConsole = "console" // spans as JSON on stdout, for local debugging
)

// HeaderCarrier adapts Kafka record headers to OpenTelemetry propagation,
// so W3C traceparent and tracestate travel in the headers.
type HeaderCarrier struct{ Headers *[]contracts.Header }

var _ propagation.TextMapCarrier = HeaderCarrier{}

// Get returns the value of the first header named key.
func (c HeaderCarrier) Get(key string) string {
	v, _ := contracts.HeaderValue(*c.Headers, key)
	return string(v)
}

// Set replaces the header named key, or appends it.
func (c HeaderCarrier) Set(key, value string) {
	hs := *c.Headers
	for i := range hs {
		if hs[i].Key == key {
			hs[i].Value = []byte(value)
			return
		}
	}
	*c.Headers = append(hs, contracts.Header{Key: key, Value: []byte(value)})
}

// Keys returns the header names.
func (c HeaderCarrier) Keys() []string {
	ks := make([]string, len(*c.Headers))
	for i, h := range *c.Headers {
		ks[i] = h.Key
	}
	return ks
}

// tracing holds the service's tracer and propagator.
type tracing struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	recording  bool
	shutdown   func(context.Context) error
	group      string
}

// newTracing builds the tracer the configuration asks for; tp, when not
// nil, overrides it.
func newTracing(ctx context.Context, cfg Config, tp trace.TracerProvider) (*tracing, error) {
	t := &tracing{
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
		group:      cfg.Group,
	}
	if tp == nil {
		var err error
		tp, t.shutdown, err = tracerProviderFor(ctx, cfg)
		if err != nil {
			return nil, err
		}
	}
	_, noopTP := tp.(noop.TracerProvider)
	t.recording = !noopTP
	t.tracer = tp.Tracer("github.com/watershed-grid/watershed/rivers")
	return t, nil
}

func tracerProviderFor(ctx context.Context, cfg Config) (trace.TracerProvider, func(context.Context) error, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch cfg.TracesExporter {
	case "", TracesNone:
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	case TracesConsole:
		exp, err = stdouttrace.New()
	case TracesOTLP:
		if p := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"); p != "" && p != "http/protobuf" {
			return nil, nil, fmt.Errorf("rivers: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=%q: only http/protobuf is supported", p)
		}
		if p := os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
			return nil, nil, fmt.Errorf("rivers: OTEL_EXPORTER_OTLP_PROTOCOL=%q: only http/protobuf is supported", p)
		}
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, nil, fmt.Errorf("rivers: OTEL_TRACES_EXPORTER=%q: want none, otlp or console", cfg.TracesExporter)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rivers: trace exporter %s: %w", cfg.TracesExporter, err)
	}
	res := resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.Name), semconv.ServiceVersion(cfg.Version), semconv.ServiceInstanceID(cfg.Instance))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// startProcess extracts the producer's trace context from rec and starts
// the consumer span "process <topic>".
func (t *tracing) startProcess(ctx context.Context, rec *Record, ev *contracts.Event) (context.Context, trace.Span) {
	ctx = t.propagator.Extract(ctx, HeaderCarrier{Headers: &rec.Headers})
	if !t.recording {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.tracer.Start(ctx, "process "+rec.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(rec.Topic),
			semconv.MessagingDestinationPartitionID(strconv.Itoa(rec.Partition)),
			semconv.MessagingKafkaOffset(int(rec.Offset)),
			semconv.MessagingConsumerGroupName(t.group),
			semconv.MessagingMessageID(ev.ID),
			semconv.MessagingKafkaMessageKey(ev.PartitionKey),
			attribute.String("cloudevents.event_type", ev.Type),
			attribute.String("cloudevents.event_source", ev.Source),
		))
}

// inject starts and ends the producer span "send <topic>" for ev and
// writes its context into headers.
func (t *tracing) inject(ctx context.Context, topic string, ev *contracts.Event, headers *[]contracts.Header) {
	if t.recording {
		var span trace.Span
		ctx, span = t.tracer.Start(ctx, "send "+topic,
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				semconv.MessagingSystemKafka,
				semconv.MessagingOperationTypeSend,
				semconv.MessagingOperationName("send"),
				semconv.MessagingDestinationName(topic),
				semconv.MessagingMessageID(ev.ID),
				semconv.MessagingKafkaMessageKey(ev.PartitionKey),
				attribute.String("cloudevents.event_type", ev.Type),
			))
		defer span.End()
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		t.propagator.Inject(ctx, HeaderCarrier{Headers: headers})
	}
}

// isTraceHeader reports whether a header is trace context, which a derived
// record replaces rather than copies.
func isTraceHeader(key string) bool {
	return strings.EqualFold(key, "traceparent") || strings.EqualFold(key, "tracestate") || strings.EqualFold(key, "baggage")
}
