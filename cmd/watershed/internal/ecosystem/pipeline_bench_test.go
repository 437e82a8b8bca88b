package ecosystem

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/feeder-aggregator/feederagg"
	"github.com/watershed-grid/watershed/services/gap-detector/gapdetector"
	"github.com/watershed-grid/watershed/services/meter-simulator/simulator"
	"github.com/watershed-grid/watershed/services/outage-detector/outage"
	"github.com/watershed-grid/watershed/services/reading-validator/validator"
	"github.com/watershed-grid/watershed/services/usage-aggregator/usage"
)

// BenchmarkPipeline measures the stage 1 and 2 pipeline on this machine:
// the embedded broker (data on disk, as `watershed dev` runs it), the five
// services that read the rapids (reading-validator, gap-detector,
// usage-aggregator, feeder-aggregator, outage-detector) running in-process
// through the ecosystem, and the simulator's Runner publishing the dev
// fleet (10,000 meters, 15-minute reads, 0.5 % duplicates and 0.5 %
// out-of-order reads) through a rapids.Producer.
//
//   - max: the Runner publishes as fast as the producer takes it (RateMax,
//     no paced timer), 20 intervals (≈ 201,000 readings) per op: the
//     sustained throughput. Its latencies are those of a saturated
//     pipeline (they grow with the backlog).
//   - paced: the Runner paced at PIPELINE_PACED_READS readings/s (default
//     1,000; scripts/bench-pipeline.sh sets half of what max measured) with
//     uploads spread over 14 grid minutes, about 20 s of load: the latency
//     of a pipeline that keeps up.
//
// Each op waits until every one of the five services is done with every
// reading published so far: [rivers.Service.Progress] on the rapids (done =
// handled, or dropped as a duplicate, its publications acknowledged and its
// offset handed to the commit) adds up to the readings published. Metrics:
//
//   - reads/s: readings published ÷ wall time from the first publication
//     to the last reading handled by the slowest service;
//   - pub-reads/s: readings ÷ the time the Runner took to publish them;
//   - p50-ms, p99-ms: latency from a reading's publication (the record
//     timestamp the benchmark sets as it hands the batch to the producer)
//     to the derived river event being read back from the rivers topic by
//     a separate consumer. The derived events are the reading-validator's
//     meter.reading.rejected.v1 (duplicates) and meter.reading.anomalous.v1
//     (out-of-order reads), matched to their reading by ce_causationid;
//     p99-pub-ms uses the derived record's own timestamp (when the
//     validator handed it to its producer) instead.
//
// Run: go test -run XXX -bench Pipeline -benchtime 1x ./internal/ecosystem
// (WATERSHED_TEST_KAFKA measures a real Kafka instead.)
func BenchmarkPipeline(b *testing.B) {
	b.Run("max", func(b *testing.B) {
		benchPipeline(b, pipelineLoad{rate: simulator.RateMax, intervals: 20})
	})
	b.Run("paced", func(b *testing.B) {
		reads := 1000.0
		if v := os.Getenv("PIPELINE_PACED_READS"); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				b.Fatalf("PIPELINE_PACED_READS=%q: want readings per second, e.g. 30000", v)
			}
			reads = f
		}
		// 10,000 meters read every 15 minutes of grid time: reads/s = speed ×
		// meters / 900. About 20 s of load, at least 2 intervals.
		speed := reads * 900 / benchMeters
		intervals := max(2, int(math.Ceil(20*reads/benchMeters)))
		benchPipeline(b, pipelineLoad{rate: simulator.RatePaced, speed: speed, uploadDelay: 14 * time.Minute, intervals: intervals})
	})
}

// benchMeters is the fleet of the benchmark: the dev default.
const benchMeters = 10_000

// pipelineLoad is how the Runner publishes in one benchmark.
type pipelineLoad struct {
	rate        string
	speed       float64       // paced: grid seconds per wall second
	uploadDelay time.Duration // paced: collectors' upload spread
	intervals   int           // per op
}

func benchPipeline(b *testing.B, load pipelineLoad) {
	log := testLogger(b)
	kcfg := testKafka(b, log)
	all, err := Members(DevOptions{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	consumers := []string{validator.Name, gapdetector.Name, usage.Name, feederagg.Name, outage.Name}
	eco := startEcosystem(b, kcfg, log, only(b, all, consumers...))
	eco.waitReady(b, 3*time.Minute)

	lat := &latencyProbe{published: map[string]time.Time{}}
	startTap(b, kcfg, kcfg.Topics.Rivers, lat.keep)
	prod, err := rapids.NewProducer(kcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()

	cfg := simulator.DefaultConfig()
	cfg.Fleet.Meters = benchMeters
	cfg.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	cfg.Rate = load.rate
	if load.speed > 0 {
		cfg.Speed = load.speed
	}
	if load.uploadDelay > 0 {
		cfg.MaxUploadDelay = load.uploadDelay
	}
	cfg.Faults = []simulator.Fault{
		{Kind: simulator.FaultDuplicate, Rate: 0.005},
		{Kind: simulator.FaultOutOfOrder, Rate: 0.005},
	}
	fleet, err := simulator.NewFleet(cfg.Fleet)
	if err != nil {
		b.Fatal(err)
	}
	model, err := simulator.NewModel(fleet, simulator.Scenario{Start: cfg.Start, Interval: cfg.Interval, MaxUploadDelay: cfg.MaxUploadDelay, Faults: cfg.Faults})
	if err != nil {
		b.Fatal(err)
	}
	gen := simulator.NewGenerator(model)
	publish := func(ctx context.Context, recs ...rivers.Record) error {
		now := time.Now()
		out := make([]rapids.Record, len(recs))
		for i, r := range recs {
			out[i] = rapids.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers, Time: now}
		}
		lat.sent(recs, now)
		return prod.Publish(ctx, out...)
	}

	ctx := context.Background()
	var published uint64
	var total, publishing time.Duration
	b.ResetTimer()
	for i := range b.N {
		cfg.End = cfg.Start.Add(time.Duration((i+1)*load.intervals) * cfg.Interval)
		run := simulator.NewRunner(gen, cfg, kcfg.Topics.Rapids)
		t0 := time.Now()
		if err := run.Run(ctx, publish); !errors.Is(err, simulator.ErrEnded) {
			b.Fatalf("runner: %v", err)
		}
		publishing += time.Since(t0)
		published += run.Published()
		waitHandled(b, eco, consumers, kcfg.Topics.Rapids, int64(published), 10*time.Minute)
		total += time.Since(t0)
	}
	b.StopTimer()

	derived := lat.settle(30 * time.Second)
	if derived == 0 {
		b.Fatal("no derived validator event came back: nothing to measure the latency on")
	}
	p50, p99, p99pub := lat.quantiles()
	b.ReportMetric(float64(published)/total.Seconds(), "reads/s")
	b.ReportMetric(float64(published)/publishing.Seconds(), "pub-reads/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(p99pub.Microseconds())/1000, "p99-pub-ms")
	b.ReportMetric(float64(derived), "derived-events")
	b.Logf("%d readings (%d meters × %d intervals × %d ops, %s) in %s (publishing %s); %d derived events",
		published, benchMeters, load.intervals, b.N, load.rate, total.Round(time.Millisecond), publishing.Round(time.Millisecond), derived)
}

// waitHandled polls until every consumer is done with want records of the
// rapids (the topic is fresh: its offsets start at 0, so the offsets the
// services are done up to add up to the records they are done with).
func waitHandled(b *testing.B, eco *runningEcosystem, consumers []string, topic string, want int64, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		behind := ""
		for _, name := range consumers {
			var got int64
			if svc := eco.service(name); svc != nil {
				for _, next := range svc.Progress(topic) {
					got += next
				}
			}
			if got < want {
				behind += fmt.Sprintf(" %s=%d", name, got)
			}
		}
		if behind == "" {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %s, services behind the %d readings published:%s", timeout, want, behind)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// latencyProbe remembers when each reading was published and measures the
// validator's derived events against it.
type latencyProbe struct {
	mu        sync.Mutex
	published map[string]time.Time // reading ce_id → publication
	observed  []time.Duration      // derived event read back − publication
	stamped   []time.Duration      // derived record timestamp − publication
}

func (p *latencyProbe) sent(recs []rivers.Record, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range recs {
		if id, ok := contracts.HeaderValue(r.Headers, contracts.HeaderID); ok {
			p.published[string(id)] = at
		}
	}
}

func (p *latencyProbe) keep(rec rapids.Record, at time.Time) {
	switch header(rec, contracts.HeaderType) {
	case events.TypeMeterReadingRejected, events.TypeMeterReadingAnomalous:
	default:
		return
	}
	cause := header(rec, contracts.HeaderCausationID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if t0, ok := p.published[cause]; ok {
		p.observed = append(p.observed, at.Sub(t0))
		p.stamped = append(p.stamped, rec.Time.Sub(t0))
	}
}

// settle waits until no derived event arrived for a second (at most
// timeout) and returns how many were measured.
func (p *latencyProbe) settle(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n := len(p.observed)
		p.mu.Unlock()
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return max(last, 0)
}

func (p *latencyProbe) quantiles() (p50, p99, p99stamped time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := func(ds []time.Duration, f float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(f*float64(len(s))))]
	}
	return q(p.observed, 0.50), q(p.observed, 0.99), q(p.stamped, 0.99)
}
