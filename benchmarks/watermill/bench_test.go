package watermillbench_test

// Side-by-side benchmarks on one embedded broker (franz-go kfake, in
// process). BenchmarkFilterRepublish runs the same service — keep
// meter.reading.v1 events whose voltage is out of range and republish each
// as meter.reading.anomalous.v1 — three ways: on this SDK, as a raw
// kafka-go consumer loop doing the same work, and on Watermill's Kafka
// pub/sub (Sarama). BenchmarkKafkaGoFetch is the client's own cost per
// fetched record, the baseline of BenchmarkDispatchNonMatching
// (dispatch_test.go). See BENCHMARKS.md for the numbers and how to read
// them.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// burstSize is the records one benchmark iteration produces: 20% of
// another type, 40% readings in range, 40% out of range (republished).
const burstSize = 5000

type burst struct {
	records []rivers.Record
	out     int // records the service must republish
}

// newBurst builds a burst for topic; ids are fresh each time, so the
// SDK's de-duplication never drops one.
func newBurst(tb testing.TB, topic string) burst {
	tb.Helper()
	b := burst{records: make([]rivers.Record, 0, burstSize)}
	now := time.Now().UTC()
	for i := range burstSize {
		meter := fmt.Sprintf("MTR-%06d", i%997)
		var e contracts.Event
		var err error
		switch i % 5 {
		case 0:
			e, err = contracts.New("/services/feeder-aggregator", events.TypeFeederLoad, map[string]any{"feeder_id": "FDR-07"})
		case 1, 2:
			e, err = contracts.New("/services/meter-simulator", events.TypeMeterReading, reading(meter, 231, now))
		default:
			e, err = contracts.New("/services/meter-simulator", events.TypeMeterReading, reading(meter, 190, now))
			b.out++
		}
		if err != nil {
			tb.Fatal(err)
		}
		e.PartitionKey = meter
		e.ExpiryTime = now.Add(time.Hour)
		b.records = append(b.records, record(tb, topic, e))
	}
	return b
}

// benchEnv is one broker and a producer for the inputs.
type benchEnv struct {
	cfg  rapids.Config
	prod *rapids.Producer
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	k := riverstest.Kafkas(b)[0] // the embedded broker: the same for every contender
	p, err := rapids.NewProducer(k.Kafka)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return &benchEnv{cfg: k.Kafka, prod: p}
}

func (e *benchEnv) produce(b *testing.B, recs []rivers.Record) {
	rs := make([]rapids.Record, len(recs))
	for i, r := range recs {
		rs[i] = rapids.Record(r)
	}
	if err := e.prod.Publish(context.Background(), rs...); err != nil {
		b.Fatal(err)
	}
}

// run measures bursts: produce one, wait until out republications are
// acknowledged, b.N times; it reports ns and events per second per input
// record.
func (e *benchEnv) run(b *testing.B, acked *atomic.Int64) {
	// Warm up: the group is joined and the pipeline is hot.
	warm := newBurst(b, e.cfg.Topics.Rapids)
	e.produce(b, warm.records[:50])
	waitFor(b, acked, int64(countOut(warm.records[:50])))
	bursts := make([]burst, b.N)
	for i := range bursts {
		bursts[i] = newBurst(b, e.cfg.Topics.Rapids)
	}
	base := acked.Load()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i := range b.N {
		e.produce(b, bursts[i].records)
		base += int64(bursts[i].out)
		waitFor(b, acked, base)
	}
	el, cpuUsed := time.Since(start), cpuTime()-cpu
	b.StopTimer()
	n := float64(b.N * burstSize)
	b.ReportMetric(float64(el.Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64(cpuUsed.Nanoseconds())/n, "cpu-ns/event")
	b.ReportMetric(n/el.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

func countOut(recs []rivers.Record) int {
	n := 0
	for _, r := range recs {
		var m events.MeterReading
		if v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType); string(v) == events.TypeMeterReading &&
			json.Unmarshal(r.Value, &m) == nil && m.VoltageVolts < 207 {
			n++
		}
	}
	return n
}

func waitFor(b *testing.B, n *atomic.Int64, want int64) {
	deadline := time.Now().Add(2 * time.Minute)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d republished after 2 minutes", n.Load(), want)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// countingTransport counts the anomalies the SDK's producer got acknowledged.
type countingTransport struct {
	rivers.Transport
	acked *atomic.Int64
}

func (c countingTransport) Publish(ctx context.Context, recs ...rivers.Record) error {
	err := c.Transport.Publish(ctx, recs...)
	if err == nil {
		for i := range recs {
			if v, _ := contracts.HeaderValue(recs[i].Headers, contracts.HeaderType); string(v) == events.TypeMeterReadingAnomalous {
				c.acked.Add(1)
			}
		}
	}
	return err
}

func BenchmarkFilterRepublish(b *testing.B) {
	b.Run("rivers-sdk", func(b *testing.B) {
		env := newBenchEnv(b)
		cfg := testConfig("voltage-watch")
		cfg.Kafka = env.cfg
		cfg.HeartbeatInterval = time.Hour
		svc := newVoltageWatch(b, cfg)
		tr, err := rivers.NewKafkaTransport(env.cfg)
		if err != nil {
			b.Fatal(err)
		}
		var acked atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- svc.Serve(ctx, countingTransport{tr, &acked}) }()
		defer func() { cancel(); <-done; tr.Close() }()
		env.run(b, &acked)
	})

	b.Run("kafka-go-loop", func(b *testing.B) {
		env := newBenchEnv(b)
		var acked atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- rawLoop(ctx, env.cfg, &acked) }()
		defer func() { cancel(); <-done }()
		env.run(b, &acked)
	})

	b.Run("watermill-sarama", func(b *testing.B) {
		env := newBenchEnv(b)
		var acked atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		router, err := watermillService(env.cfg, &acked)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- router.Run(ctx) }()
		defer func() { cancel(); <-done }()
		<-router.Running()
		env.run(b, &acked)
	})
}

// anomaly is the republication both hand-written contenders build: the same
// payload the SDK's voltageWatch handler publishes.
func anomaly(ev contracts.Event, r events.MeterReading) (contracts.Event, error) {
	v, lim := r.VoltageVolts, 207.0
	out, err := ev.Derive("/services/voltage-watch", events.TypeMeterReadingAnomalous, events.MeterReadingAnomalous{
		MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
		ReadAt: r.ReadAt, ReadingEventID: ev.ID, Reading: r,
		Rule: "voltage_out_of_range", Reason: fmt.Sprintf("%.1f V is out of range", v),
		Field: "voltage_v", Value: &v, Threshold: &lim, DetectedAt: r.ReadAt,
	})
	if err != nil {
		return out, err
	}
	out.ExpiryTime = time.Now().Add(24 * time.Hour)
	return out, catalog.Default().Validate(out.Type, out.Data)
}

// handle is the work of both hand-written contenders for one record: the
// type check, decoding, validation in and out, and the republication.
func handle(m contracts.Message) (*contracts.Message, error) {
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
	out, err := anomaly(ev, r)
	if err != nil {
		return nil, err
	}
	om, err := contracts.EncodeBinary(out)
	return &om, err
}

// rawLoop is the service as a competent raw kafka-go loop: fetch what is
// there (up to 1000), handle it, write the republications in one call
// (acks=all, the rapids producer's settings), commit.
func rawLoop(ctx context.Context, cfg rapids.Config, acked *atomic.Int64) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Brokers, GroupID: "raw-voltage-watch", GroupTopics: []string{cfg.Topics.Rapids},
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond, QueueCapacity: 1000,
		CommitInterval: time.Second, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
	})
	defer r.Close()
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		Compression: kafka.Lz4, BatchSize: 1000, BatchBytes: 1 << 20, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	batch := make([]kafka.Message, 0, 1000)
	out := make([]kafka.Message, 0, 1000)
	for {
		batch, out = batch[:0], out[:0]
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return nil
		}
		batch = append(batch, m)
		for len(batch) < cap(batch) {
			fctx, cancel := context.WithTimeout(ctx, time.Millisecond)
			m, err := r.FetchMessage(fctx)
			cancel()
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		for _, m := range batch {
			hs := make([]contracts.Header, len(m.Headers))
			for i, h := range m.Headers {
				hs[i] = contracts.Header(h)
			}
			om, err := handle(contracts.Message{Key: m.Key, Value: m.Value, Headers: hs})
			if err != nil || om == nil {
				continue
			}
			khs := make([]kafka.Header, len(om.Headers))
			for i, h := range om.Headers {
				khs[i] = kafka.Header(h)
			}
			out = append(out, kafka.Message{Topic: cfg.Topics.Rivers, Key: om.Key, Value: om.Value, Headers: khs})
		}
		if len(out) > 0 {
			if err := w.WriteMessages(ctx, out...); err != nil {
				return err
			}
			acked.Add(int64(len(out)))
		}
		if err := r.CommitMessages(ctx, batch...); err != nil {
			return err
		}
	}
}

// watermillService is the service on Watermill's router with its Kafka
// subscriber and publisher (Sarama), defaults but for the start offset and
// acks=all.
func watermillService(cfg rapids.Config, acked *atomic.Int64) (*message.Router, error) {
	subCfg := wkafka.DefaultSaramaSubscriberConfig()
	subCfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	sub, err := wkafka.NewSubscriber(wkafka.SubscriberConfig{
		Brokers: cfg.Brokers, Unmarshaler: wkafka.DefaultMarshaler{}, OverwriteSaramaConfig: subCfg,
		ConsumerGroup: "watermill-voltage-watch",
	}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	pubCfg := wkafka.DefaultSaramaSyncPublisherConfig()
	pubCfg.Producer.RequiredAcks = sarama.WaitForAll
	pub, err := wkafka.NewPublisher(wkafka.PublisherConfig{
		Brokers: cfg.Brokers, OverwriteSaramaConfig: pubCfg,
		Marshaler: wkafka.NewWithPartitioningMarshaler(func(_ string, m *message.Message) (string, error) {
			return m.Metadata.Get("partition_key"), nil
		}),
	}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	router.AddHandler("voltage-watch", cfg.Topics.Rapids, sub, cfg.Topics.Rivers, countingPublisher{pub, acked},
		func(msg *message.Message) ([]*message.Message, error) {
			hs := make([]contracts.Header, 0, len(msg.Metadata))
			for k, v := range msg.Metadata {
				hs = append(hs, contracts.Header{Key: k, Value: []byte(v)})
			}
			om, err := handle(contracts.Message{Value: msg.Payload, Headers: hs})
			if err != nil || om == nil {
				return nil, nil
			}
			out := message.NewMessage(watermill.NewUUID(), om.Value)
			for _, h := range om.Headers {
				out.Metadata.Set(h.Key, string(h.Value))
			}
			out.Metadata.Set("partition_key", string(om.Key))
			return []*message.Message{out}, nil
		})
	return router, nil
}

type countingPublisher struct {
	message.Publisher
	acked *atomic.Int64
}

func (c countingPublisher) Publish(topic string, msgs ...*message.Message) error {
	err := c.Publisher.Publish(topic, msgs...)
	if err == nil {
		c.acked.Add(int64(len(msgs)))
	}
	return err
}

// BenchmarkKafkaGoFetch is kafka-go's own cost per fetched record from the
// embedded broker (FetchMessage on a warm reader, the records already
// produced): the baseline the SDK's non-matching dispatch
// (BenchmarkDispatchNonMatching) adds to. One op is one record.
func BenchmarkKafkaGoFetch(b *testing.B) {
	env := newBenchEnv(b)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: env.cfg.Brokers, Topic: env.cfg.Topics.Rapids, Partition: 0,
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond, QueueCapacity: 1000})
	defer r.Close()
	ctx := context.Background()
	var fetched int
	var cpu, wall time.Duration
	b.ReportAllocs()
	for fetched < b.N {
		b.StopTimer()
		n := min(b.N-fetched, 4*burstSize)
		var recs []rivers.Record
		for len(recs) < n {
			recs = append(recs, newBurst(b, env.cfg.Topics.Rapids).records...)
		}
		env.produce(b, recs[:n])
		b.StartTimer()
		start, c0 := time.Now(), cpuTime()
		for range n {
			if _, err := r.FetchMessage(ctx); err != nil {
				b.Fatal(err)
			}
		}
		wall += time.Since(start)
		cpu += cpuTime() - c0
		fetched += n
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	_ = wall
}

// BenchmarkNonMatchingOverKafka is what records no river wants cost end to
// end: a burst of feeder.load.v1 records and one sentinel reading are
// produced, and the clock stops when the sentinel is handled — by a service
// whose only river wants readings, and by a raw kafka-go consumer-group
// loop that only reads ce_type. The difference per record is the SDK's
// cost above its client's (rapids' conversion, the dispatch, the bulk
// commit).
func BenchmarkNonMatchingOverKafka(b *testing.B) {
	const n = 20000
	batch := func(b *testing.B, topic string) []rivers.Record {
		recs := make([]rivers.Record, 0, n+1)
		now := time.Now().UTC()
		e, err := contracts.New("/services/feeder-aggregator", events.TypeFeederLoad, map[string]any{"feeder_id": "FDR-07"})
		if err != nil {
			b.Fatal(err)
		}
		r := record(b, topic, e)
		for range n {
			recs = append(recs, r)
		}
		s, err := contracts.New("/services/meter-simulator", events.TypeMeterReading, reading("SENTINEL", 231, now))
		if err != nil {
			b.Fatal(err)
		}
		s.ExpiryTime = now.Add(time.Hour)
		return append(recs, record(b, topic, s))
	}
	measure := func(b *testing.B, env *benchEnv, sentinels *atomic.Int64) {
		env.produce(b, batch(b, env.cfg.Topics.Rapids)[n:]) // warm up: the sentinel alone
		waitFor(b, sentinels, 1)
		b.ResetTimer()
		start, cpu := time.Now(), cpuTime()
		for i := range b.N {
			env.produce(b, batch(b, env.cfg.Topics.Rapids))
			waitFor(b, sentinels, int64(i+2))
		}
		el, c := time.Since(start), cpuTime()-cpu
		b.StopTimer()
		b.ReportMetric(float64(el.Nanoseconds())/float64(b.N*n), "ns/record")
		b.ReportMetric(float64(c.Nanoseconds())/float64(b.N*n), "cpu-ns/record")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("kafka-go-group-fetch", func(b *testing.B) {
		env := newBenchEnv(b)
		var sentinels atomic.Int64
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: env.cfg.Brokers, GroupID: "raw-skipper", GroupTopics: []string{env.cfg.Topics.Rapids},
			MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond, QueueCapacity: 1000, CommitInterval: time.Second,
			StartOffset: kafka.FirstOffset})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				for _, h := range m.Headers {
					if h.Key == contracts.HeaderType && string(h.Value) == events.TypeMeterReading {
						sentinels.Add(1)
						_ = r.CommitMessages(ctx, m)
					}
				}
			}
		}()
		defer func() { cancel(); <-done; r.Close() }()
		measure(b, env, &sentinels)
	})
	b.Run("rivers-sdk", func(b *testing.B) {
		env := newBenchEnv(b)
		cfg := testConfig("skipper")
		cfg.Kafka, cfg.HeartbeatInterval = env.cfg, time.Hour
		svc, err := rivers.NewService(cfg)
		if err != nil {
			b.Fatal(err)
		}
		var sentinels atomic.Int64
		svc.Handle(readingRiver(), func(context.Context, rivers.Event, rivers.Publisher) error {
			sentinels.Add(1)
			return nil
		})
		tr, err := rivers.NewKafkaTransport(env.cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- svc.Serve(ctx, tr) }()
		defer func() { cancel(); <-done; tr.Close() }()
		measure(b, env, &sentinels)
	})
}
