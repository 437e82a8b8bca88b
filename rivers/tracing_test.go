package rivers_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestTracingSpansAndPropagation(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	svc, _ := newVoltageWatch(t, testConfig("voltage-watch"), rivers.WithTracerProvider(tp))
	kit := riverstest.New(t, svc)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	send := func(meter string) contracts.Event {
		e := kit.Event(events.TypeMeterReading, reading(meter, 180, kit.Now()))
		e.PartitionKey = meter
		m, _ := contracts.EncodeBinary(e)
		m.Headers = append(m.Headers, contracts.Header{Key: "traceparent", Value: []byte("00-" + traceID + "-00f067aa0ba902b7-01")})
		kit.SendRecord(rivers.Record{Topic: "rapids", Key: m.Key, Value: m.Value, Headers: m.Headers})
		return e
	}
	in := send("M1")

	var process, sendSpan sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "process rapids" {
			process = s
		}
	}
	for _, s := range rec.Ended() {
		if process != nil && s.Name() == "send rivers" && s.Parent().SpanID() == process.SpanContext().SpanID() {
			sendSpan = s
		}
	}
	if process == nil || sendSpan == nil {
		t.Fatalf("spans %v: want process rapids and its child send rivers", names(rec.Ended()))
	}
	if process.SpanKind() != trace.SpanKindConsumer || process.SpanContext().TraceID().String() != traceID ||
		process.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("process span kind %v trace %s parent %s", process.SpanKind(), process.SpanContext().TraceID(), process.Parent().SpanID())
	}
	attrs := map[attribute.Key]string{}
	for _, kv := range process.Attributes() {
		attrs[kv.Key] = kv.Value.Emit()
	}
	for k, want := range map[attribute.Key]string{
		"messaging.system": "kafka", "messaging.destination.name": "rapids", "messaging.message.id": in.ID,
		"messaging.consumer.group.name": "voltage-watch", "messaging.kafka.message.key": "M1", "messaging.operation.type": "process",
	} {
		if attrs[k] != want {
			t.Errorf("process span %s = %q, want %q", k, attrs[k], want)
		}
	}
	if sendSpan.SpanKind() != trace.SpanKindProducer {
		t.Errorf("send span kind %v", sendSpan.SpanKind())
	}
	out := kit.PublishedRecords(rivers.Rivers)
	var tp0 string
	for _, r := range out {
		if v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType); string(v) == events.TypeMeterReadingAnomalous {
			h, _ := contracts.HeaderValue(r.Headers, "traceparent")
			tp0 = string(h)
		}
	}
	if want := "00-" + traceID + "-" + sendSpan.SpanContext().SpanID().String(); !strings.HasPrefix(tp0, want) {
		t.Errorf("published traceparent %q, want %s-..", tp0, want)
	}

	send("BAD")
	var failed sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "process rapids" && s.Status().Code == codes.Error {
			failed = s
		}
	}
	if failed == nil || !strings.Contains(failed.Status().Description, "asset register") || len(failed.Events()) == 0 {
		t.Errorf("the failing handler's span has no error status and event: %v", failed)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}
