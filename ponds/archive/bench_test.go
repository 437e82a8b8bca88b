package archive

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
)

// benchReadings returns n meter.reading.v1 events as one partition of the
// rapids carries them: 10,000 meters (on 200 transformers, 10 feeders)
// reporting every 15 minutes, in time order.
func benchReadings(tb testing.TB, n int) []contracts.Event {
	tb.Helper()
	const meters = 10_000
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]contracts.Event, n)
	for i := range out {
		m, round := i%meters, i/meters
		at := start.Add(time.Duration(round) * 15 * time.Minute)
		r := events.MeterReading{
			MeterID: fmt.Sprintf("MTR-%06d", m), TransformerID: fmt.Sprintf("TX-%04d", m/50), FeederID: fmt.Sprintf("FDR-%02d", m/1000),
			ReadAt: at, IntervalSeconds: 900,
			EnergyKWhTotal: math.Round((float64(m)*3.7+float64(round)*0.413)*1000) / 1000,
			DemandKW:       math.Round(float64((i*7919)%5000)) / 1000,
			VoltageVolts:   math.Round(2300+float64((i*31)%200)-100) / 10,
		}
		e, err := contracts.New("/services/mqtt-gateway", events.TypeMeterReading, r)
		if err != nil {
			tb.Fatal(err)
		}
		e.Time = at.Add(time.Duration(i%1000) * time.Millisecond)
		e.ExpiryTime = at.Add(72 * time.Hour)
		e.PartitionKey = r.MeterID
		out[i] = e
	}
	return out
}

// BenchmarkArchiveRows measures Parquet archiving on one core (GOMAXPROCS
// 1): Add (the schema's checks, typed decode) of 100,000 readings and the
// Flush that encodes them and writes one file:// object. Goal: >= 100,000
// rows/s. rows/cpu-s divides by this process's CPU time instead of the wall
// clock, for machines shared with other work.
func BenchmarkArchiveRows(b *testing.B) {
	for _, bc := range []struct {
		name, compression string
		validator         Validator
	}{
		{"zstd", "zstd", nil},
		{"snappy", "snappy", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			const n = 100_000
			evs := benchReadings(b, n)
			ctx := context.Background()
			a, err := NewArchiver(fileBucket(b).bucket, &Options{MaxRows: n, MaxBytes: 1 << 30, Compression: bc.compression, Validator: bc.validator})
			if err != nil {
				b.Fatal(err)
			}
			var off int64
			rows := 0
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				for i := range evs {
					if err := a.Add(ctx, Position{Topic: "rapids", Offset: off}, evs[i]); err != nil {
						b.Fatal(err)
					}
					off++
				}
				if err := a.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				rows += n
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			// On a shared machine the wall clock counts other processes'
			// time too; the process's CPU time is the one core's work.
			b.ReportMetric(float64(rows)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
		})
	}
}

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBytesPerReading archives 100,000 readings into one file per
// codec and reports the Parquet bytes per reading beside the JSON the
// rapids carry: the record value (data) alone, and the value with the ce_*
// headers and key of Kafka's binary mode.
func BenchmarkBytesPerReading(b *testing.B) {
	const n = 100_000
	evs := benchReadings(b, n)
	var jsonBytes, kafkaBytes int
	for _, e := range evs {
		m, err := contracts.EncodeBinary(e)
		if err != nil {
			b.Fatal(err)
		}
		jsonBytes += len(m.Value)
		kafkaBytes += len(m.Key) + len(m.Value)
		for _, h := range m.Headers {
			kafkaBytes += len(h.Key) + len(h.Value)
		}
	}
	for _, codec := range []string{"zstd", "snappy", "gzip", "none"} {
		b.Run(codec, func(b *testing.B) {
			ctx := context.Background()
			var size int64
			for b.Loop() {
				tb := fileBucket(b)
				a, err := NewArchiver(tb.bucket, &Options{MaxRows: n, MaxBytes: 1 << 30, Compression: codec})
				if err != nil {
					b.Fatal(err)
				}
				for i := range evs {
					if err := a.Add(ctx, Position{Topic: "rapids", Offset: int64(i)}, evs[i]); err != nil {
						b.Fatal(err)
					}
				}
				if err := a.Close(ctx); err != nil {
					b.Fatal(err)
				}
				objs, err := List(ctx, tb.bucket, Filter{})
				if err != nil || len(objs) != 1 {
					b.Fatalf("%d objects, %v", len(objs), err)
				}
				size = objs[0].Size
			}
			b.ReportMetric(float64(size)/n, "parquet-B/reading")
			b.ReportMetric(float64(jsonBytes)/n, "json-B/reading")
			b.ReportMetric(float64(kafkaBytes)/n, "kafka-B/reading")
		})
	}
}
