package watermillbench_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// cpuTime is the CPU time (user + system) the process has used so far: on
// a shared machine wall time includes waiting for a core, CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reading is a meter.reading.v1 payload of meter at voltage.
func reading(meter string, voltage float64, at time.Time) events.MeterReading {
	return events.MeterReading{
		MeterID: meter, TransformerID: "TX-0042", FeederID: "FDR-07",
		ReadAt: at, IntervalSeconds: 900, EnergyKWhTotal: 18234.5, DemandKW: 1.8, VoltageVolts: voltage,
	}
}

// record encodes e as a record on topic.
func record(t testing.TB, topic string, e contracts.Event) rivers.Record {
	t.Helper()
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	return rivers.Record{Topic: topic, Key: m.Key, Value: m.Value, Headers: m.Headers}
}

// testConfig is a quiet service configuration.
func testConfig(name string) rivers.Config {
	return rivers.Config{Name: name, Version: "1.2.3", Instance: name + "-bench", HTTPAddr: "off", LogLevel: "error", DedupSize: 1000}
}

// readingRiver reads meter.reading.v1 on the rapids.
func readingRiver() *rivers.River {
	return rivers.NewRiver(events.TypeMeterReading).
		Named("readings").
		OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags")
}

// newVoltageWatch is the benchmarks' service on the SDK: it republishes each
// reading out of the voltage band as meter.reading.anomalous.v1 (the same
// work as rawLoop and watermillService).
func newVoltageWatch(tb testing.TB, cfg rivers.Config) *rivers.Service {
	tb.Helper()
	svc, err := rivers.NewService(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	svc.Publishes(events.TypeMeterReadingAnomalous)
	svc.Handle(readingRiver(), func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
		var r events.MeterReading
		if err := ev.Decode(&r); err != nil {
			return err
		}
		if r.VoltageVolts >= 207 && r.VoltageVolts <= 253 {
			return nil
		}
		v, lim := r.VoltageVolts, 207.0
		return pub.Publish(ctx, events.TypeMeterReadingAnomalous, events.MeterReadingAnomalous{
			MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
			ReadAt: r.ReadAt, ReadingEventID: ev.ID(), Reading: r,
			Rule: "voltage_out_of_range", Reason: fmt.Sprintf("%.1f V is out of range", v),
			Field: "voltage_v", Value: &v, Threshold: &lim, DetectedAt: r.ReadAt,
		})
	})
	return svc
}
