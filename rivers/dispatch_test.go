package rivers

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

// newBenchService returns a service with one river on meter.reading.v1 and
// the runtime dispatch needs, without a transport.
func newBenchService(tb testing.TB, h Handler) (*Service, *runtime) {
	tb.Helper()
	s, err := NewService(Config{Name: "bench", Version: "1.0.0", LogLevel: "error"})
	if err != nil {
		tb.Fatal(err)
	}
	s.Handle(NewRiver(events.TypeMeterReading).OnTopic(Rapids).Named("readings").
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags"), h)
	for _, e := range s.rivers {
		e.handler = s.chain(e.handler, e.mws, e.internal)
	}
	ctx := context.Background()
	return s, &runtime{hard: ctx, drain: ctx, index: s.buildIndex(s.rivers)}
}

// dispatch runs one record through the pipeline as a chunk of its own and
// returns its item, without a sender.
func (s *Service) dispatch(rt *runtime, rec *Record) (*item, bool) {
	typ, has := contracts.HeaderValue(rec.Headers, contracts.HeaderType)
	route := s.match(rt, rec, typ)
	if route == nil && has {
		s.tel.skipped.Add(1)
	}
	items, ok := s.processChunk(rt, []prepared{{rec: *rec, route: route, typed: has && len(typ) > 0}})
	if !ok {
		return nil, false
	}
	return &items[0], true
}

func benchRecord(tb testing.TB, typ string) Record {
	tb.Helper()
	e, err := contracts.New("/services/meter-simulator", typ, events.MeterReading{
		MeterID: "MTR-000417", TransformerID: "TX-0042", FeederID: "FDR-07",
		ReadAt: time.Now().UTC(), IntervalSeconds: 900, EnergyKWhTotal: 18234.5, DemandKW: 1.84, VoltageVolts: 239.6,
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.PartitionKey = "MTR-000417"
	e.ExpiryTime = time.Now().Add(time.Hour)
	e.Participants = []string{"meter-simulator"}
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		tb.Fatal(err)
	}
	return Record{Topic: "rapids", Key: m.Key, Value: m.Value, Headers: append(m.Headers,
		contracts.Header{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")})}
}

// BenchmarkDispatchNonMatching is the SDK's cost for a record no river
// wants, as a worker sees it under load: the ce_type header check and the
// skip counter on the fetching side, then the record's share of a chunk of
// 256 (its item, left out of the sender's queue unless it is the last of its
// partition). Nothing is decoded.
func BenchmarkDispatchNonMatching(b *testing.B) {
	s, rt := newBenchService(b, func(context.Context, Event, Publisher) error { return nil })
	rec := benchRecord(b, events.TypeFeederLoad)
	const chunkSize = 256
	chunk := make([]prepared, chunkSize)
	b.ReportAllocs()
	cpu := CPUTime()
	n := 0
	for b.Loop() {
		typ, has := contracts.HeaderValue(rec.Headers, contracts.HeaderType)
		route := s.match(rt, &rec, typ)
		if route == nil && has {
			s.tel.skipped.Add(1)
		}
		chunk[n] = prepared{rec: rec, route: route, typed: has}
		chunk[n].rec.Offset = int64(n)
		if n++; n == chunkSize {
			items, ok := s.processChunk(rt, chunk)
			if !ok || len(items) != chunkSize {
				b.Fatal("chunk interrupted")
			}
			n = 0
		}
	}
	b.ReportMetric(float64(CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
	if s.tel.skipped.Load() == 0 {
		b.Fatal("the record was not skipped")
	}
}

// BenchmarkDispatchMatching is the SDK's cost for a wanted record, with a
// handler that reads two keys and publishes nothing: decode, use-by, hops,
// de-duplication, schema validation, key rules, middleware, metrics.
func BenchmarkDispatchMatching(b *testing.B) {
	var n int
	s, rt := newBenchService(b, func(_ context.Context, ev Event, _ Publisher) error {
		if _, err := ev.Float("voltage_v"); err != nil {
			return err
		}
		n++
		return nil
	})
	rec := benchRecord(b, events.TypeMeterReading)
	b.ReportAllocs()
	for b.Loop() {
		// A new id each time, or de-duplication would drop it.
		if _, ok := s.dispatch(rt, &rec); !ok {
			b.Fatal("dispatch interrupted")
		}
		s.dedup.(*MemoryDedup).Forget(context.Background(), "/services/meter-simulator\x00"+idOf(&rec))
	}
	if n == 0 {
		b.Fatal("handler never ran")
	}
}

func idOf(r *Record) string {
	v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderID)
	return string(v)
}

// anomalyHandler is the benchmark service's handler: decode the reading,
// publish an anomaly when the voltage is out of range.
func anomalyHandler(ctx context.Context, ev Event, pub Publisher) error {
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
		Rule: "voltage_out_of_range", Reason: "voltage out of range",
		Field: "voltage_v", Value: &v, Threshold: &lim, DetectedAt: r.ReadAt,
	})
}

// rawHandle is the same work without the SDK: type check, decode,
// validation in and out, the republication, as a hand-written loop does it.
func rawHandle(m contracts.Message) (*contracts.Message, error) {
	if v, _ := contracts.HeaderValue(m.Headers, contracts.HeaderType); string(v) != events.TypeMeterReading {
		return nil, nil
	}
	ev, err := contracts.DecodeBinary(m)
	if err != nil || ev.Expired(time.Now()) {
		return nil, err
	}
	if err := catalog.Default().Validate(ev.Type, ev.Data); err != nil {
		return nil, err
	}
	var r events.MeterReading
	if err := json.Unmarshal(ev.Data, &r); err != nil {
		return nil, err
	}
	if r.VoltageVolts >= 207 && r.VoltageVolts <= 253 {
		return nil, nil
	}
	v, lim := r.VoltageVolts, 207.0
	out, err := ev.Derive("/services/bench", events.TypeMeterReadingAnomalous, events.MeterReadingAnomalous{
		MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
		ReadAt: r.ReadAt, ReadingEventID: ev.ID, Reading: r,
		Rule: "voltage_out_of_range", Reason: "voltage out of range",
		Field: "voltage_v", Value: &v, Threshold: &lim, DetectedAt: r.ReadAt,
	})
	if err != nil {
		return nil, err
	}
	out.ExpiryTime = time.Now().Add(24 * time.Hour)
	if err := catalog.Default().Validate(out.Type, out.Data); err != nil {
		return nil, err
	}
	om, err := contracts.EncodeBinary(out)
	return &om, err
}

// BenchmarkProcessCPU compares, in process and without a broker, the CPU
// one out-of-range reading costs through the SDK's whole pipeline (decode,
// use-by, hops, de-duplication, schema, key rules, middleware, metrics,
// publication built, validated and queued) and through rawHandle: the
// SDK's per-event overhead.
func BenchmarkProcessCPU(b *testing.B) {
	rec := benchRecord(b, events.TypeMeterReading)
	var r events.MeterReading
	_ = json.Unmarshal(rec.Value, &r)
	r.VoltageVolts = 190
	rec.Value, _ = json.Marshal(r)
	b.Run("rivers-sdk", func(b *testing.B) {
		s, rt := newBenchService(b, anomalyHandler)
		key := "/services/meter-simulator\x00" + idOf(&rec)
		b.ReportAllocs()
		cpu := CPUTime()
		for b.Loop() {
			it, ok := s.dispatch(rt, &rec)
			if !ok || len(it.out) != 1 {
				b.Fatalf("dispatch: %v %+v", ok, it)
			}
			s.dedup.Forget(context.Background(), key)
		}
		b.ReportMetric(float64(CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("raw", func(b *testing.B) {
		m := rec.Message()
		b.ReportAllocs()
		cpu := CPUTime()
		for b.Loop() {
			om, err := rawHandle(m)
			if err != nil || om == nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkDispatchBatch is the SDK's cost per reading on the path the
// stage-1 services take: a chunk of 256 readings of one partition (distinct
// ids) through decoding, use-by, hops, de-duplication, schema validation
// and key rules, then one batch handler call that decodes each payload once
// into events.MeterReading and publishes nothing. ns/op, B/op and
// allocs/op are per reading.
func BenchmarkDispatchBatch(b *testing.B) {
	s, err := NewService(Config{Name: "bench", Version: "1.0.0", LogLevel: "error"})
	if err != nil {
		b.Fatal(err)
	}
	var seen int
	HandleBatch(s, NewRiver(events.TypeMeterReading).OnTopic(Rapids).Named("readings").
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags"), func(_ context.Context, batch *Batch[events.MeterReading]) error {
		for i := range batch.Len() {
			if batch.Value(i).VoltageVolts > 0 {
				seen++
			}
		}
		return nil
	})
	ctx := context.Background()
	for _, e := range s.rivers {
		e.proven = rulesProven(s.validator, e.river) // as Serve does
	}
	rt := &runtime{hard: ctx, drain: ctx, index: s.buildIndex(s.rivers)}
	const chunkSize = 256
	recs := make([]Record, chunkSize)
	for i := range recs {
		recs[i] = benchRecord(b, events.TypeMeterReading)
		recs[i].Offset = int64(i)
	}
	keys := make([]string, chunkSize)
	for i := range recs {
		keys[i] = "/services/meter-simulator\x00" + idOf(&recs[i])
	}
	chunk := make([]prepared, chunkSize)
	n := 0
	b.ReportAllocs()
	cpu := CPUTime()
	for b.Loop() {
		rec := &recs[n]
		typ, has := contracts.HeaderValue(rec.Headers, contracts.HeaderType)
		chunk[n] = prepared{rec: *rec, route: s.match(rt, rec, typ), typed: has}
		if n++; n == chunkSize {
			if _, ok := s.processChunk(rt, chunk); !ok {
				b.Fatal("chunk interrupted")
			}
			for _, k := range keys { // the same ids again next round
				s.dedup.Forget(ctx, k)
			}
			n = 0
		}
	}
	b.ReportMetric(float64(CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
	if seen == 0 {
		b.Fatal("the batch handler saw no reading")
	}
}
