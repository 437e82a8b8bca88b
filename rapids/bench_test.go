//go:build unix

package rapids_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// The benchmarks run rapids and a raw kafka-go loop with the same settings
// against the same embedded broker, in the same process, so the difference
// is rapids' own overhead. Each reports events/s:
//
//	go test -run '^$' -bench . ./rapids
//
// On a shared machine the separate pairs (BenchmarkPublish and
// BenchmarkRawKafkaGoPublish, ...) swing with the load; the *Paired
// benchmarks alternate the two in one run and report the median overhead,
// and *PairedControl pairs raw with raw to show the noise floor:
//
//	go test -run '^$' -bench Paired -benchtime 40x ./rapids
//
// See BENCHMARKS.md for figures.

const (
	benchPublishers = 4    // concurrent publishers, as a service's handlers would be
	benchBatch      = 500  // records per Publish call
	benchKeys       = 5000 // meters
)

// benchRecords returns n meter readings as records on topic, keyed by meter.
func benchRecords(b *testing.B, topic string, n int) []rapids.Record {
	b.Helper()
	recs := make([]rapids.Record, n)
	for i := range recs {
		meter := fmt.Sprintf("meter-%06d", i%benchKeys)
		e, err := contracts.New("/services/meter-simulator", "meter.reading.v1", map[string]any{
			"meter_id": meter, "transformer_id": "tx-0042", "feeder_id": "fd-7",
			"read_at": "2026-03-01T12:15:00Z", "interval_s": 900,
			"energy_kwh_total": 10234.125 + float64(i), "demand_kw": 1.42, "voltage_v": 231.7,
		})
		if err != nil {
			b.Fatal(err)
		}
		e.PartitionKey = meter
		if recs[i], err = rapids.NewRecord(topic, e); err != nil {
			b.Fatal(err)
		}
	}
	return recs
}

// toKafkaMessages returns the kafka-go messages of recs for the raw loops.
// They share the records' keys, values and headers, so both sides read the
// very same bytes.
func toKafkaMessages(recs []rapids.Record) []kafka.Message {
	msgs := make([]kafka.Message, len(recs))
	now := time.Now()
	for i, r := range recs {
		var hs []kafka.Header
		if len(r.Headers) > 0 { // the same memory: the types are convertible
			hs = unsafe.Slice((*kafka.Header)(unsafe.Pointer(unsafe.SliceData(r.Headers))), len(r.Headers))
		}
		msgs[i] = kafka.Message{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: hs, Time: now}
	}
	return msgs
}

// runPublishers splits n records over benchPublishers goroutines calling
// publish with batches of benchBatch indexes [from, to).
func runPublishers(b *testing.B, n int, publish func(ctx context.Context, from, to int) error) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchPublishers)
	for range benchPublishers {
		wg.Go(func() {
			for {
				from := int(next.Add(benchBatch)) - benchBatch
				if from >= n {
					return
				}
				if err := publish(ctx, from, min(from+benchBatch, n)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func benchConfig(b *testing.B) rapids.Config {
	return rapids.Config{Brokers: []string{startBroker(b, "").Addr()}, Logger: quietLogger()}
}

// BenchmarkPublish: the rapids Producer, acks=all, batched, concurrent.
func BenchmarkPublish(b *testing.B) {
	cfg := benchConfig(b)
	recs := benchRecords(b, "rapids", b.N)
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	runPublishers(b, b.N, func(ctx context.Context, from, to int) error { return p.Publish(ctx, recs[from:to]...) })
	b.StopTimer()
	reportRate(b, b.N)
}

// BenchmarkRawKafkaGoPublish: a kafka-go Writer with the Producer's exact
// settings, the same records and the same concurrency.
func BenchmarkRawKafkaGoPublish(b *testing.B) {
	cfg := benchConfig(b)
	msgs := toKafkaMessages(benchRecords(b, "rapids", b.N))
	w, err := rapids.RawWriter(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ResetTimer()
	runPublishers(b, b.N, func(ctx context.Context, from, to int) error { return w.WriteMessages(ctx, msgs[from:to]...) })
	b.StopTimer()
	reportRate(b, b.N)
}

// BenchmarkPublishLone: one record at a time, no concurrency: the latency a
// lone event pays for batching (the linger), in ms/op.
func BenchmarkPublishLone(b *testing.B) {
	cfg := benchConfig(b)
	recs := benchRecords(b, "rapids", 1)
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := p.Publish(ctx, recs[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}

// fillTopic publishes n records to a fresh single-purpose topic and returns
// its name; untimed.
func fillTopic(b *testing.B, cfg rapids.Config, n int) string {
	b.Helper()
	ctx := context.Background()
	topic := fmt.Sprintf("bench-consume-%d", time.Now().UnixNano())
	if err := rapids.EnsureTopics(ctx, cfg, rapids.TopicSpec{Name: topic, Partitions: 6}); err != nil {
		b.Fatal(err)
	}
	w, err := rapids.RawWriter(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	msgs := toKafkaMessages(benchRecords(b, topic, n))
	runPublishers(b, n, func(ctx context.Context, from, to int) error { return w.WriteMessages(ctx, msgs[from:to]...) })
	return topic
}

// BenchmarkConsume: the rapids Consumer reading b.N records in a group,
// committing each (commits batched every second, as by default).
func BenchmarkConsume(b *testing.B) {
	cfg := benchConfig(b)
	topic := fillTopic(b, cfg, b.N)
	ctx := context.Background()
	b.ResetTimer()
	c, err := rapids.NewConsumer(cfg, "bench", []string{topic})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		r, err := c.Fetch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Commit(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, b.N)
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRawKafkaGoConsume: a kafka-go Reader with the Consumer's
// settings, FetchMessage and CommitMessages (batched by kafka-go every
// second).
func BenchmarkRawKafkaGoConsume(b *testing.B) {
	cfg := benchConfig(b)
	topic := fillTopic(b, cfg, b.N)
	ctx := context.Background()
	b.ResetTimer()
	rc, err := rapids.RawReaderConfig(cfg, "bench", []string{topic})
	if err != nil {
		b.Fatal(err)
	}
	r := kafka.NewReader(rc)
	for range b.N {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, b.N)
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPublishPaired alternates rounds of the rapids Producer and of the
// raw kafka-go Writer on the same broker, so that load from elsewhere on the
// machine hits both alike, and reports both rates and rapids' overhead.
func BenchmarkPublishPaired(b *testing.B) { publishPaired(b, false) }

// BenchmarkPublishPairedControl pairs two raw kafka-go Writers the same
// way: its "overhead" is the noise floor of the paired measurement.
func BenchmarkPublishPairedControl(b *testing.B) { publishPaired(b, true) }

func publishPaired(b *testing.B, control bool) {
	cfg := benchConfig(b)
	const round = 20000
	recs := benchRecords(b, "rapids", round)
	msgs := toKafkaMessages(recs)
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	w, err := rapids.RawWriter(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	publish := func(ctx context.Context, from, to int) error { return p.Publish(ctx, recs[from:to]...) }
	if control {
		w2, err := rapids.RawWriter(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer w2.Close()
		publish = func(ctx context.Context, from, to int) error { return w2.WriteMessages(ctx, msgs[from:to]...) }
	}
	rapidsRun := func() { runPublishers(b, round, publish) }
	rawRun := func() {
		runPublishers(b, round, func(ctx context.Context, from, to int) error { return w.WriteMessages(ctx, msgs[from:to]...) })
	}
	rapidsRun() // warm both up: connections, metadata, buffers
	rawRun()
	b.ResetTimer()
	comparePaired(b, round, rapidsRun, rawRun)
}

// comparePaired runs a and raw b.N times each, alternating which goes
// first, and reports their rates and a's overhead in wall time and in CPU
// time of the process (client and in-process broker). Overheads are the
// median over the pairs of a's time over raw's, which a burst of load
// elsewhere on the machine moves far less than the totals.
func comparePaired(b *testing.B, perRun int, a, raw func()) {
	var ta, traw, ca, craw time.Duration
	wall := make([]float64, 0, b.N)
	cpu := make([]float64, 0, b.N)
	measure := func(f func()) (time.Duration, time.Duration) {
		c0, t0 := cpuTime(b), time.Now()
		f()
		return time.Since(t0), cpuTime(b) - c0
	}
	for i := range b.N {
		var wa, wraw, cpuA, cpuRaw time.Duration
		if i%2 == 0 {
			wa, cpuA = measure(a)
			wraw, cpuRaw = measure(raw)
		} else {
			wraw, cpuRaw = measure(raw)
			wa, cpuA = measure(a)
		}
		ta, traw, ca, craw = ta+wa, traw+wraw, ca+cpuA, craw+cpuRaw
		wall = append(wall, wa.Seconds()/wraw.Seconds())
		cpu = append(cpu, cpuA.Seconds()/cpuRaw.Seconds())
	}
	b.StopTimer()
	n := float64(perRun * b.N)
	b.ReportMetric(n/ta.Seconds(), "rapids-events/s")
	b.ReportMetric(n/traw.Seconds(), "raw-events/s")
	b.ReportMetric(float64(ca.Microseconds())/n, "rapids-cpu-µs/event")
	b.ReportMetric(float64(craw.Microseconds())/n, "raw-cpu-µs/event")
	b.ReportMetric(100*(median(wall)-1), "overhead-%")
	b.ReportMetric(100*(median(cpu)-1), "cpu-overhead-%")
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConsumePaired alternates the rapids Consumer and the raw kafka-go
// Reader, each reading the same records in a fresh group per round, and
// reports both rates and rapids' overhead (see BenchmarkPublishPaired).
// A round counts from creating the consumer to committing its last record.
func BenchmarkConsumePaired(b *testing.B) { consumePaired(b, false) }

// BenchmarkConsumePairedControl pairs two raw kafka-go Readers: the noise
// floor of BenchmarkConsumePaired.
func BenchmarkConsumePairedControl(b *testing.B) { consumePaired(b, true) }

func consumePaired(b *testing.B, control bool) {
	cfg := benchConfig(b)
	const round = 20000
	topic := fillTopic(b, cfg, round)
	ctx := context.Background()
	groups := 0
	group := func() string { groups++; return fmt.Sprintf("bench-%d", groups) }
	// Each consumer is closed in the background after its round: Close
	// waits for an in-flight fetch, which is not what is measured.
	var closing sync.WaitGroup
	defer closing.Wait()
	closeLater := func(close func() error) { closing.Go(func() { _ = close() }) }
	rapidsRun := func() {
		c, err := rapids.NewConsumer(cfg, group(), []string{topic})
		if err != nil {
			b.Fatal(err)
		}
		defer closeLater(c.Close)
		for range round {
			r, err := c.Fetch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Commit(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	rawRun := func() {
		rc, err := rapids.RawReaderConfig(cfg, group(), []string{topic})
		if err != nil {
			b.Fatal(err)
		}
		r := kafka.NewReader(rc)
		defer closeLater(r.Close)
		for range round {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.CommitMessages(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	if control {
		rapidsRun = rawRun
	}
	rapidsRun() // warm up
	rawRun()
	b.ResetTimer()
	comparePaired(b, round, rapidsRun, rawRun)
}
