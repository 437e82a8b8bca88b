package rivers_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// voltageWatch is the service most tests run: it reads meter readings from
// the rapids and publishes meter.reading.anomalous.v1 for voltages out of
// range. Meter ids steer failures: "PANIC", "FAIL" (transient, always),
// "FLAKY" (transient once), "BAD" (permanent), "UNDECLARED" (reads a key
// the river did not declare).
type voltageWatch struct {
	mu      sync.Mutex
	handled []string // ids of handled events, in order
	flaky   map[string]int
	block   chan struct{} // when set, handlers wait on it
}

func (w *voltageWatch) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.handled...)
}

func testConfig(name string) rivers.Config {
	return rivers.Config{
		Name:      name,
		Version:   "1.2.3",
		Instance:  name + "-test",
		HTTPAddr:  "127.0.0.1:0",
		LogLevel:  "error",
		Retry:     rivers.RetryPolicy{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond},
		DedupSize: 1000,
	}
}

func readingRiver() *rivers.River {
	return rivers.NewRiver(events.TypeMeterReading).
		Named("readings").
		OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags")
}

func newVoltageWatch(t testing.TB, cfg rivers.Config, opts ...rivers.Option) (*rivers.Service, *voltageWatch) {
	t.Helper()
	svc, err := rivers.NewService(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	w := &voltageWatch{flaky: map[string]int{}}
	svc.Publishes(events.TypeMeterReadingAnomalous)
	svc.Handle(readingRiver(), w.handle)
	return svc, w
}

func (w *voltageWatch) handle(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	if w.block != nil {
		select {
		case <-w.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var r events.MeterReading
	if err := ev.Decode(&r); err != nil {
		return err
	}
	// Publish first, fail after: a failed attempt must publish nothing.
	if r.VoltageVolts < 207 || r.VoltageVolts > 253 {
		v, lim := r.VoltageVolts, 207.0
		err := pub.Publish(ctx, events.TypeMeterReadingAnomalous, events.MeterReadingAnomalous{
			MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
			ReadAt: r.ReadAt, ReadingEventID: ev.ID(), Reading: r,
			Rule: "voltage_out_of_range", Reason: fmt.Sprintf("%.1f V is out of range", v),
			Field: "voltage_v", Value: &v, Threshold: &lim, DetectedAt: r.ReadAt,
		})
		if err != nil {
			return err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch r.MeterID {
	case "PANIC":
		panic("meter says panic")
	case "FAIL":
		return errors.New("database unavailable")
	case "FLAKY":
		w.flaky[ev.ID()]++
		if w.flaky[ev.ID()] == 1 {
			return errors.New("first attempt fails")
		}
	case "BAD":
		return rivers.Permanent(errors.New("meter unknown to the asset register"))
	case "UNDECLARED":
		if _, err := ev.String("customer_id"); err != nil {
			return err
		}
	}
	w.handled = append(w.handled, ev.ID())
	return nil
}

func reading(meter string, voltage float64, at time.Time) events.MeterReading {
	return events.MeterReading{
		MeterID: meter, TransformerID: "TX-0042", FeederID: "FDR-07",
		ReadAt: at, IntervalSeconds: 900, EnergyKWhTotal: 18234.5, DemandKW: 1.8, VoltageVolts: voltage,
	}
}
