package rivers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/watershed-grid/watershed/rapids"
)

// NewKafkaTransport returns the [Transport] over Kafka: a rapids Producer
// for publications (acks=all) and a rapids Consumer per subscription,
// configured with opts. [Service.Run] builds one from Config.Kafka; tests
// build one to Serve a service against the embedded broker.
func NewKafkaTransport(cfg rapids.Config, opts ...rapids.ConsumerOption) (Transport, error) {
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		return nil, err
	}
	return &kafkaTransport{cfg: cfg, prod: p, opts: opts}, nil
}

type kafkaTransport struct {
	cfg  rapids.Config
	prod *rapids.Producer
	opts []rapids.ConsumerOption
	// closed makes Subscribe fail after Close, as Publish does.
	closed atomic.Bool
}

func (t *kafkaTransport) Publish(ctx context.Context, records ...Record) error {
	rs := make([]rapids.Record, len(records))
	for i := range records {
		rs[i] = rapids.Record(records[i])
	}
	return kafkaErr(t.prod.Publish(ctx, rs...))
}

func (t *kafkaTransport) Subscribe(_ context.Context, group string, topics []string) (Subscription, error) {
	if t.closed.Load() {
		return nil, kafkaErr(rapids.ErrClosed)
	}
	c, err := rapids.NewConsumer(t.cfg, group, topics, t.opts...)
	if err != nil {
		return nil, err
	}
	return &kafkaSubscription{c: c}, nil
}

func (t *kafkaTransport) Close() error {
	t.closed.Store(true)
	return t.prod.Close()
}

type kafkaSubscription struct{ c *rapids.Consumer }

func (s *kafkaSubscription) Fetch(ctx context.Context) (Record, error) {
	r, err := s.c.Fetch(ctx)
	return Record(r), kafkaErr(err)
}

func (s *kafkaSubscription) Commit(ctx context.Context, records ...Record) error {
	rs := make([]rapids.Record, len(records))
	for i := range records {
		rs[i] = rapids.Record(records[i])
	}
	return kafkaErr(s.c.Commit(ctx, rs...))
}

func (s *kafkaSubscription) Close() error { return s.c.Close() }

// EndOffsets returns the end offsets of the partitions read from.
func (s *kafkaSubscription) EndOffsets(ctx context.Context) (map[TopicPartition]int64, error) {
	ends, err := s.c.EndOffsets(ctx)
	if err != nil {
		return nil, kafkaErr(err)
	}
	out := make(map[TopicPartition]int64, len(ends))
	for k, v := range ends {
		out[TopicPartition(k)] = v
	}
	return out, nil
}

// Assignment returns the partitions the group gave this member and the
// offset each started at.
func (s *kafkaSubscription) Assignment() map[TopicPartition]int64 {
	a := s.c.Assignment()
	if a == nil {
		return nil
	}
	out := make(map[TopicPartition]int64, len(a))
	for k, v := range a {
		out[TopicPartition(k)] = v
	}
	return out
}

// CloseWithoutCommit leaves the group without sending the offsets not
// committed yet, as a crash would (rapids.Consumer.CloseWithoutCommit):
// tests kill a member with it.
func (s *kafkaSubscription) CloseWithoutCommit() error { return kafkaErr(s.c.CloseWithoutCommit()) }

// Rebalanced receives after each new assignment of the group.
func (s *kafkaSubscription) Rebalanced() <-chan struct{} { return s.c.Rebalanced() }

// ReadPartition reads a partition's history outside the group.
func (s *kafkaSubscription) ReadPartition(ctx context.Context, tp TopicPartition, since time.Time, end int64, fn func(Record) error) error {
	return kafkaErr(s.c.ReadPartition(ctx, rapids.TopicPartition(tp), since, end, func(r rapids.Record) error { return fn(Record(r)) }))
}

// Lag returns the records behind the end of the assigned partitions.
func (s *kafkaSubscription) Lag() int64 { return s.c.Lag() }

// Ready reports whether the group has assigned partitions to the consumer.
func (s *kafkaSubscription) Ready(context.Context) error {
	if !s.c.Assigned() {
		return errors.New("waiting for the consumer group to assign partitions")
	}
	return nil
}

// kafkaErr maps rapids' error kinds onto this package's.
func kafkaErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rapids.ErrClosed):
		return fmt.Errorf("%w: %w", ErrStopped, err)
	case rapids.IsPermanent(err):
		return Permanent(err)
	}
	return err
}
