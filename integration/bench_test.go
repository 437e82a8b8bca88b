package integration

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// The benchmarks measure rapids and a raw kafka-go loop with the same
// settings against the real broker, in the same run (rapids' own
// benchmarks use the embedded broker only). Run them with
//
//	go test -run '^$' -bench Integration -benchtime 20000x ./integration
//
// Each reports events/s.

const (
	benchPublishers = 4   // concurrent publishers, as a service's handlers would be
	benchBatch      = 500 // records per Publish call
	benchPartitions = 6   // the rapids' default partition count
)

// benchTopic creates a fresh topic of benchPartitions partitions.
func benchTopic(b *testing.B, cfg rapids.Config) string {
	b.Helper()
	name := unique("bench")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := rapids.EnsureTopics(ctx, cfg, rapids.TopicSpec{Name: name, Partitions: benchPartitions, ReplicationFactor: -1, Retention: time.Hour}); err != nil {
		b.Fatal(err)
	}
	return name
}

func benchRecords(b *testing.B, topic string, n int) []rapids.Record {
	b.Helper()
	recs := make([]rapids.Record, n)
	for i := range recs {
		recs[i] = mustRecord(b, topic, reading(b, meter(i%5000), i))
	}
	return recs
}

func kafkaMessages(recs []rapids.Record) []kafkago.Message {
	msgs := make([]kafkago.Message, len(recs))
	for i, r := range recs {
		hs := make([]kafkago.Header, len(r.Headers))
		for j, h := range r.Headers {
			hs[j] = kafkago.Header(h)
		}
		msgs[i] = kafkago.Message{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: hs, Time: time.Now()}
	}
	return msgs
}

// rawWriter is a kafka-go Writer with the rapids Producer's settings
// (rapids.Config defaults: acks=all, lz4, murmur2, 1000 records or 1 MiB per
// batch, 5ms linger, 10s timeouts, 10 attempts).
func rawWriter(cfg rapids.Config) *kafkago.Writer {
	cfg = cfg.WithDefaults()
	return &kafkago.Writer{
		Addr:         kafkago.TCP(cfg.Brokers...),
		Balancer:     rapids.JavaCompatibleBalancer(),
		RequiredAcks: kafkago.RequireAll,
		Compression:  kafkago.Lz4,
		BatchSize:    cfg.BatchSize,
		BatchBytes:   cfg.BatchBytes,
		BatchTimeout: cfg.Linger,
		WriteTimeout: cfg.WriteTimeout,
		ReadTimeout:  cfg.WriteTimeout,
		MaxAttempts:  cfg.MaxAttempts,
		Transport: &kafkago.Transport{
			DialTimeout: cfg.DialTimeout, IdleTimeout: 5 * time.Minute, MetadataTTL: 6 * time.Second, ClientID: cfg.ClientID,
		},
	}
}

// runPublishers splits n records over benchPublishers goroutines calling
// publish with batches [from, to).
func runPublishers(b *testing.B, n int, publish func(ctx context.Context, from, to int) error) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
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

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIntegrationPublish: the rapids Producer on the real broker.
func BenchmarkIntegrationPublish(b *testing.B) {
	cfg := realKafka(b).config()
	recs := benchRecords(b, benchTopic(b, cfg), b.N)
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	runPublishers(b, b.N, func(ctx context.Context, from, to int) error { return p.Publish(ctx, recs[from:to]...) })
	b.StopTimer()
	reportRate(b)
}

// BenchmarkIntegrationRawKafkaGoPublish: a kafka-go Writer with the same
// settings, records and concurrency.
func BenchmarkIntegrationRawKafkaGoPublish(b *testing.B) {
	cfg := realKafka(b).config()
	msgs := kafkaMessages(benchRecords(b, benchTopic(b, cfg), b.N))
	w := rawWriter(cfg)
	defer w.Close()
	b.ResetTimer()
	runPublishers(b, b.N, func(ctx context.Context, from, to int) error { return w.WriteMessages(ctx, msgs[from:to]...) })
	b.StopTimer()
	reportRate(b)
}

// fillTopic publishes n records to a fresh topic and returns its name.
func fillTopic(b *testing.B, cfg rapids.Config, n int) string {
	b.Helper()
	topic := benchTopic(b, cfg)
	recs := benchRecords(b, topic, n)
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	runPublishers(b, n, func(ctx context.Context, from, to int) error { return p.Publish(ctx, recs[from:to]...) })
	return topic
}

// BenchmarkIntegrationConsume: the rapids Consumer reading b.N records in
// a new group, committing each (batched every second by default),
// including the group join.
func BenchmarkIntegrationConsume(b *testing.B) {
	cfg := realKafka(b).config()
	topic := fillTopic(b, cfg, b.N)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	c, err := rapids.NewConsumer(cfg, unique("bench"), []string{topic})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		r, err := c.Fetch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := contracts.DecodeBinary(r.Message()); err != nil {
			b.Fatal(err)
		}
		if err := c.Commit(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b)
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIntegrationRawKafkaGoConsume: a kafka-go Reader with the rapids
// Consumer's settings, FetchMessage, the same decoding and CommitMessages
// batched every second.
func BenchmarkIntegrationRawKafkaGoConsume(b *testing.B) {
	cfg := realKafka(b).config().WithDefaults()
	topic := fillTopic(b, cfg, b.N)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: cfg.Brokers, GroupID: unique("bench"), GroupTopics: []string{topic},
		Dialer:        &kafkago.Dialer{ClientID: cfg.ClientID, Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second},
		QueueCapacity: 1000, MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond, ReadLagInterval: -1,
		HeartbeatInterval: time.Second, CommitInterval: time.Second, SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 10 * time.Second, JoinGroupBackoff: time.Second, StartOffset: kafkago.FirstOffset,
		WatchPartitionChanges: true,
	})
	for range b.N {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		hs := make([]contracts.Header, len(m.Headers))
		for i, h := range m.Headers {
			hs[i] = contracts.Header(h)
		}
		if _, err := contracts.DecodeBinary(contracts.Message{Key: m.Key, Value: m.Value, Headers: hs}); err != nil {
			b.Fatal(err)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b)
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}
