package alertrouter

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Metric names (besides the SDK's watershed_* metrics). Labels are alert
// names, receivers and outcomes: never an entity id.
const (
	MetricRaised        = "watershed_alerts_raised_total"
	MetricResolved      = "watershed_alerts_resolved_total"
	MetricDuplicates    = "watershed_alerts_duplicate_total"
	MetricUnrouted      = "watershed_alerts_unrouted_total"
	MetricInvalid       = "watershed_alert_events_invalid_total"
	MetricNotifications = "watershed_alert_notifications_total"
	MetricDeliveries    = "watershed_alert_deliveries_total"
	MetricDeliveryTime  = "watershed_alert_delivery_duration_seconds"
	MetricFiring        = "watershed_alerts_firing"
	MetricOutbox        = "watershed_alert_outbox_notifications"
	MetricDead          = "watershed_alert_dead_notifications"
	MetricDLQLetters    = "watershed_alert_dlq_letters"
)

type counter struct {
	c    metric.Int64Counter
	keys []string
}

func (c counter) add(vals ...string) {
	attrs := make([]attribute.KeyValue, len(c.keys))
	for i, k := range c.keys {
		attrs[i] = attribute.String(k, vals[i])
	}
	c.c.Add(context.Background(), 1, metric.WithAttributes(attrs...))
}

type metrics struct {
	raised, resolved, duplicates, unrouted, invalidEv, notifications, deliveries counter
	took                                                                         metric.Float64Histogram
}

func newMetrics(m metric.Meter) (*metrics, error) {
	if m == nil {
		m = noop.NewMeterProvider().Meter(Name)
	}
	var errs []error
	mk := func(name, desc string, keys ...string) counter {
		c, err := m.Int64Counter(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return counter{c: c, keys: keys}
	}
	out := &metrics{
		raised:        mk(MetricRaised, "Alerts raised (new or firing again).", "alert"),
		resolved:      mk(MetricResolved, "Alerts resolved, by an event or a timeout.", "alert", "by"),
		duplicates:    mk(MetricDuplicates, "Raising events folded into a firing alert.", "alert"),
		unrouted:      mk(MetricUnrouted, "Alerts no route matched (listed, notified to nobody).", "alert"),
		invalidEv:     mk(MetricInvalid, "Events that could not be made into an alert or resolution.", "type", "reason"),
		notifications: mk(MetricNotifications, "Notifications made, per receiver.", "receiver", "status"),
		deliveries:    mk(MetricDeliveries, "Delivery attempts, per receiver and outcome (delivered, retrying, dead).", "kind", "receiver", "outcome"),
	}
	h, err := m.Float64Histogram(MetricDeliveryTime, metric.WithDescription("Duration of one delivery attempt."), metric.WithUnit("s"))
	errs = append(errs, err)
	out.took = h
	return out, errors.Join(errs...)
}

func (m *metrics) invalid(typ, reason string) { m.invalidEv.add(typ, reason) }

func (m *metrics) delivered(kind, receiver, outcome string, took time.Duration) {
	m.deliveries.add(kind, receiver, outcome)
	m.took.Record(context.Background(), took.Seconds(), metric.WithAttributes(attribute.String("receiver", receiver)))
}

// gauges registers the observable gauges of r.
func (r *Router) gauges(m metric.Meter) error {
	if m == nil {
		return nil
	}
	firing, err1 := m.Int64ObservableGauge(MetricFiring, metric.WithDescription("Firing alerts, per alert name."))
	outbox, err2 := m.Int64ObservableGauge(MetricOutbox, metric.WithDescription("Notifications waiting for delivery."))
	dead, err3 := m.Int64ObservableGauge(MetricDead, metric.WithDescription("Notifications dead-lettered (GET /v1/dead)."))
	dlq, err4 := m.Int64ObservableGauge(MetricDLQLetters, metric.WithDescription("Dead letters per watched topic, at the last look."))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return err
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		per := map[string]int64{}
		for _, k := range r.rules.Kinds {
			per[k.Name] = 0
		}
		for _, a := range r.alerts {
			if a.State == StateFiring {
				per[a.Name]++
			}
		}
		for name, n := range per {
			o.ObserveInt64(firing, n, metric.WithAttributes(attribute.String("alert", name)))
		}
		o.ObserveInt64(outbox, int64(len(r.outbox)))
		o.ObserveInt64(dead, int64(len(r.dead)))
		for topic, s := range r.dlq {
			o.ObserveInt64(dlq, s.Letters, metric.WithAttributes(attribute.String("topic", topic)))
		}
		return nil
	}, firing, outbox, dead, dlq)
	return err
}
