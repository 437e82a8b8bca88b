package validator

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCheck measures the rules on good reads of 10,000 meters.
func BenchmarkCheck(b *testing.B) {
	v := newValidator(b, Config{})
	rs := make([]string, 10_000)
	for i := range rs {
		rs[i] = "MTR-" + strconv.Itoa(1_000_000+i)
	}
	var buf []Finding
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i / len(rs)
		r := reading(rs[i%len(rs)], t0.Add(time.Duration(k)*15*time.Minute), 100+float64(k)*0.3)
		buf = v.Check(buf[:0], &r, r.ReadAt)
		if len(buf) != 0 {
			b.Fatalf("%+v", buf)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "reads/s")
}

// BenchmarkParse measures decoding and schema checks of one payload.
func BenchmarkParse(b *testing.B) {
	data := []byte(`{"meter_id":"MTR-0000001","transformer_id":"TX-00001","feeder_id":"FDR-0001","read_at":"2026-03-02T10:15:00Z","interval_s":900,"energy_kwh_total":12345.678,"demand_kw":1.204,"voltage_v":229.8}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateBytesPerMeter measures the heap held per remembered meter
// (meter ids of 11 bytes, like MTR-0000001).
func BenchmarkStateBytesPerMeter(b *testing.B) {
	const meters = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v := newValidator(b, Config{})
		for i := range meters {
			r := reading("MTR-"+strconv.Itoa(1_000_000+i), t0, 1)
			v.Check(nil, &r, t0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if v.Meters() != meters {
			b.Fatalf("%d meters", v.Meters())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/meters, "bytes/meter")
		runtime.KeepAlive(v)
	}
}
