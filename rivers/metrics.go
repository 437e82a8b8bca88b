package rivers

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Metric names as Prometheus exposes them. Labels are the event type, the
// river or timer name, the topic and the dead-letter class; never an entity
// (meter, transformer) id.
const (
	MetricEventsIn        = "watershed_events_in_total"            // {type, river}: events of a river's types received
	MetricEventsOut       = "watershed_events_out_total"           // {type, topic}: events published and acknowledged
	MetricEventsExpired   = "watershed_events_expired_total"       // {type, river}: dropped past their use-by date
	MetricEventsDead      = "watershed_events_dead_lettered_total" // {type, river, class}: sent to <topic>.dlq
	MetricEventsDuplicate = "watershed_events_duplicate_total"     // {type, river}: dropped as duplicate deliveries
	MetricEventsWithheld  = "watershed_events_withheld_total"      // {type}: not published, the type is retired
	MetricEventsRejected  = "watershed_events_rejected_total"      // {type, river}: failed the river's key rules
	MetricRecordsSkipped  = "watershed_records_skipped_total"      // {}: records no river wanted (ce_type check only)
	MetricHandlerDuration = "watershed_handler_duration_seconds"   // {river|timer, type, outcome}: histogram
	MetricTimerRuns       = "watershed_timer_runs_total"           // {timer, outcome}
	MetricConsumerLag     = "watershed_consumer_lag"               // {}: records behind the end of the assigned partitions
	MetricLastProcessed   = "watershed_last_processed_timestamp_seconds"
	MetricPublishErrors   = "watershed_publish_errors_total" // {}: failed sends to the broker, retried
	MetricDedupErrors     = "watershed_dedup_errors_total"   // {}: de-duplication store failures (event processed)
)

// telemetry holds the service's meter provider, its private Prometheus
// registry and the instruments.
type telemetry struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	meter    metric.Meter

	in, out, expired, dead, deadFailed, dup, withheld, rejected, timerRuns, pubErrs, dedupErrs metric.Int64Counter
	duration                                                                                   metric.Float64Histogram

	skipped       atomic.Int64
	lastProcessed atomic.Int64 // unix nanoseconds
	lag           atomic.Pointer[func() int64]

	attrs    sync.Map // attrKey → metric.MeasurementOption
	addLists sync.Map // attrKey → []metric.AddOption
}

type attrKey struct{ k1, v1, k2, v2, k3, v3 string }

func newTelemetry(service, version, instance string) (*telemetry, error) {
	t := &telemetry{registry: prometheus.NewRegistry()}
	t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("rivers: prometheus exporter: %w", err)
	}
	res := resource.NewWithAttributes("",
		attribute.String("service.name", service),
		attribute.String("service.version", version),
		attribute.String("service.instance.id", instance))
	t.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	t.meter = t.provider.Meter("github.com/watershed-grid/watershed/rivers")
	m := t.meter
	counter := func(name, desc string) metric.Int64Counter {
		c, cerr := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{event}"))
		if cerr != nil && err == nil {
			err = cerr
		}
		return c
	}
	t.in = counter("watershed.events.in", "Events of a river's types received, per type and river.")
	t.out = counter("watershed.events.out", "Events published and acknowledged, per type and topic.")
	t.expired = counter("watershed.events.expired", "Events dropped past their use-by date, per type and river.")
	t.dead = counter("watershed.events.dead_lettered", "Events whose dead letter the broker acknowledged, per type, river and class.")
	t.deadFailed = counter("watershed.events.dead_letter_failed", "Events committed without a dead letter: the broker refused even the letter without its payload.")
	t.dup = counter("watershed.events.duplicate", "Duplicate deliveries dropped, per type and river.")
	t.withheld = counter("watershed.events.withheld", "Events not published because their type is retired, per type.")
	t.rejected = counter("watershed.events.rejected", "Events that failed their river's key rules, per type and river.")
	t.timerRuns = counter("watershed.timer.runs", "Timer runs, per timer and outcome.")
	t.pubErrs = counter("watershed.publish.errors", "Failed sends to the broker (retried).")
	t.dedupErrs = counter("watershed.dedup.errors", "De-duplication store failures; the event was processed.")
	if err != nil {
		return nil, fmt.Errorf("rivers: metrics: %w", err)
	}
	t.duration, err = m.Float64Histogram("watershed.handler.duration",
		metric.WithDescription("Handler and timer run time, per river or timer, type and outcome."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	if err != nil {
		return nil, fmt.Errorf("rivers: metrics: %w", err)
	}
	skipped, err := m.Int64ObservableCounter("watershed.records.skipped",
		metric.WithDescription("Records no river wanted, dropped on the ce_type header."), metric.WithUnit("{record}"))
	if err != nil {
		return nil, fmt.Errorf("rivers: metrics: %w", err)
	}
	lag, err := m.Int64ObservableGauge("watershed.consumer.lag",
		metric.WithDescription("Records behind the end of the assigned partitions."), metric.WithUnit("{record}"))
	if err != nil {
		return nil, fmt.Errorf("rivers: metrics: %w", err)
	}
	last, err := m.Float64ObservableGauge("watershed.last_processed.timestamp",
		metric.WithDescription("When the last event was processed, Unix time."), metric.WithUnit("s"))
	if err != nil {
		return nil, fmt.Errorf("rivers: metrics: %w", err)
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(skipped, t.skipped.Load())
		if f := t.lag.Load(); f != nil {
			o.ObserveInt64(lag, (*f)())
		}
		if ns := t.lastProcessed.Load(); ns != 0 {
			o.ObserveFloat64(last, float64(ns)/1e9)
		}
		return nil
	}, skipped, lag, last)
	if err != nil {
		return nil, fmt.Errorf("rivers: metrics: %w", err)
	}
	return t, nil
}

// opt returns the cached attribute option for up to three label pairs.
func (t *telemetry) opt(k attrKey) metric.MeasurementOption {
	if v, ok := t.attrs.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	kvs := make([]attribute.KeyValue, 0, 3)
	for _, p := range [][2]string{{k.k1, k.v1}, {k.k2, k.v2}, {k.k3, k.v3}} {
		if p[0] != "" {
			kvs = append(kvs, attribute.String(p[0], p[1]))
		}
	}
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	v, _ := t.attrs.LoadOrStore(k, o)
	return v.(metric.MeasurementOption)
}

// addOpts is opt as the argument list of a counter's Add, cached too: a
// variadic call would allocate the list on every event.
func (t *telemetry) addOpts(k attrKey) []metric.AddOption {
	if v, ok := t.addLists.Load(k); ok {
		return v.([]metric.AddOption)
	}
	v, _ := t.addLists.LoadOrStore(k, []metric.AddOption{t.opt(k)})
	return v.([]metric.AddOption)
}

// riverMetrics are the metric options of one river and event type, built
// once so the per-event path does not rebuild attribute sets.
type riverMetrics struct {
	typeRiver     []metric.AddOption  // {type, river}; a slice, so Add does not allocate one per call
	durOK, durErr metric.RecordOption // {river, type, outcome}
}

func (t *telemetry) riverMetrics(typ, river string) *riverMetrics {
	return &riverMetrics{
		typeRiver: t.addOpts(attrKey{k1: "type", v1: typ, k2: "river", v2: river}),
		durOK:     t.opt(attrKey{k1: "river", v1: river, k2: "type", v2: typ, k3: "outcome", v3: "ok"}),
		durErr:    t.opt(attrKey{k1: "river", v1: river, k2: "type", v2: typ, k3: "outcome", v3: "error"}),
	}
}

func (t *telemetry) add(c metric.Int64Counter, opts []metric.AddOption) {
	c.Add(context.Background(), 1, opts...)
}

func (t *telemetry) deadLettered(typ, river, class string) {
	t.add(t.dead, t.addOpts(attrKey{k1: "type", v1: typ, k2: "river", v2: river, k3: "class", v3: class}))
}

func (t *telemetry) published(typ, topic string) {
	t.add(t.out, t.addOpts(attrKey{k1: "type", v1: typ, k2: "topic", v2: topic}))
}

func (t *telemetry) withheldType(typ string) {
	t.add(t.withheld, t.addOpts(attrKey{k1: "type", v1: typ}))
}

func (t *telemetry) observeHandler(river, timer, typ string, err error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	var k attrKey
	if timer != "" {
		k = attrKey{k1: "timer", v1: timer, k2: "outcome", v2: outcome}
	} else {
		k = attrKey{k1: "river", v1: river, k2: "type", v2: typ, k3: "outcome", v3: outcome}
	}
	t.duration.Record(context.Background(), d.Seconds(), t.opt(k))
	if timer != "" {
		t.add(t.timerRuns, t.addOpts(attrKey{k1: "timer", v1: timer, k2: "outcome", v2: outcome}))
	}
}

func (t *telemetry) shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }
