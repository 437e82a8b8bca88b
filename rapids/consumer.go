package rapids

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// StartOffset is where a consumer group starts on a partition it has no
// committed offset for.
type StartOffset int

const (
	// Earliest starts at the oldest record still retained (the default):
	// a new service sees the history the topic still holds.
	Earliest StartOffset = iota
	// Latest starts at the next record published.
	Latest
)

// Consumer option defaults.
const (
	DefaultSessionTimeout    = 10 * time.Second
	DefaultHeartbeatInterval = 1 * time.Second
	DefaultRebalanceTimeout  = 10 * time.Second
	DefaultCommitInterval    = 1 * time.Second
	DefaultFetchMaxWait      = 1500 * time.Millisecond
	// DefaultFetchMaxBytes bounds one fetch per partition: kafka-go holds
	// a fetched batch per assigned partition, so a consumer's memory is
	// about partitions × this. 1 MiB (kafka-go's default) keeps a reader
	// of the 6-partition rapids near 6 MiB; larger fetches gained no
	// throughput on the embedded broker.
	DefaultFetchMaxBytes = 1 << 20
	DefaultQueueCapacity = 1000
)

// ConsumerOption configures a Consumer. Each option states its default.
type ConsumerOption func(*consumerOptions)

type consumerOptions struct {
	start            StartOffset
	sessionTimeout   time.Duration
	heartbeat        time.Duration
	rebalanceTimeout time.Duration
	commitInterval   time.Duration
	fetchMaxWait     time.Duration
	fetchMaxBytes    int
	queueCapacity    int
	retry            RetryPolicy
	onPermanent      func(ctx context.Context, r Record, err error) error
}

func defaultConsumerOptions() consumerOptions {
	return consumerOptions{
		start:            Earliest,
		sessionTimeout:   DefaultSessionTimeout,
		heartbeat:        DefaultHeartbeatInterval,
		rebalanceTimeout: DefaultRebalanceTimeout,
		commitInterval:   DefaultCommitInterval,
		fetchMaxWait:     DefaultFetchMaxWait,
		fetchMaxBytes:    DefaultFetchMaxBytes,
		queueCapacity:    DefaultQueueCapacity,
		retry:            DefaultRetryPolicy,
	}
}

// WithStartOffset sets where a group without a committed offset starts on a
// partition. Default Earliest.
func WithStartOffset(s StartOffset) ConsumerOption {
	return func(o *consumerOptions) { o.start = s }
}

// WithSessionTimeout sets how long the group coordinator waits for a
// heartbeat before it gives this consumer's partitions to another member.
// Default 10s; real Kafka accepts 6s to 30min unless the broker says
// otherwise (group.min/max.session.timeout.ms).
func WithSessionTimeout(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.sessionTimeout = d }
}

// WithHeartbeatInterval sets how often the consumer tells the coordinator
// it is alive; it must be under a third of the session timeout. Default 1s.
func WithHeartbeatInterval(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.heartbeat = d }
}

// WithRebalanceTimeout sets how long the coordinator waits for every member
// to rejoin during a rebalance. Default 10s.
func WithRebalanceTimeout(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.rebalanceTimeout = d }
}

// WithCommitInterval sets how often committed records are sent to the
// broker. Commit collects offsets and a background loop commits them every
// d, and Close commits what is left. 0 makes every Commit synchronous.
// Default 1s: a crash redelivers at most about a second of records.
func WithCommitInterval(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.commitInterval = d }
}

// WithFetchMaxWait sets the time one fetch may take when there is nothing
// new. kafka-go asks the broker to answer within d minus 1s (d/4 less below
// 1s) and keeps the rest as the margin for the reply: a fetch answered
// later fails with an i/o timeout and a reconnect. Close and rebalances wait
// for the in-flight fetches. Default 1.5s: the broker holds an idle fetch
// 0.5s, and a slow machine has 1s of margin (kafka-go's default of 10s
// would hold Close and rebalances for 9s).
func WithFetchMaxWait(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.fetchMaxWait = d }
}

// WithRetry sets how Run retries a handler's retryable errors. Default
// DefaultRetryPolicy.
func WithRetry(p RetryPolicy) ConsumerOption {
	return func(o *consumerOptions) { o.retry = p }
}

// WithOnPermanent sets what Run does with a record whose handler failed
// permanently (see Permanent), typically publishing it to a dead-letter
// topic. The record is committed once fn returns nil. An error from fn is
// retried like a handler error when retryable; a permanent one stops Run.
// Default: log the record's position and error at error level, then commit.
func WithOnPermanent(fn func(ctx context.Context, r Record, err error) error) ConsumerOption {
	return func(o *consumerOptions) { o.onPermanent = fn }
}

// Consumer reads records as a member of a consumer group, at least once:
// Fetch returns the next record of the partitions assigned to it, and a
// record counts as processed only once it is committed. Records not
// committed when the consumer stops or loses a partition are delivered
// again, to it or to another member. Run is the fetch, handle, commit loop.
//
// Fetch and Run must be called from one goroutine at a time; Commit, Lag,
// Assigned and Close are safe from any goroutine.
type Consumer struct {
	r     *kafka.Reader
	conn  *connection
	group string
	opts  consumerOptions
	log   *slog.Logger

	assignedOnce sync.Once
	assignedCh   chan struct{}
	partitions   atomic.Int64
	rebalanced   chan struct{} // signalled after each new assignment

	mu      sync.Mutex
	pending map[partitionKey]int64 // highest committed record offset not yet sent
	// position is, per partition of the current generation, the group's
	// position as far as this member knows it: the offset it started at,
	// or past the highest record committed since. Commit ignores records
	// before it, so an older commit never moves the group back.
	position map[partitionKey]int64
	lag      map[partitionKey]int64
	// assignment is the latest generation's partitions and start offsets.
	assignment map[TopicPartition]int64

	closed   atomic.Bool
	stop     chan struct{}
	flushing sync.WaitGroup
}

type partitionKey struct {
	topic     string
	partition int
}

// NewConsumer returns a member of group reading topics. It joins the group in
// the background; Assigned and WaitAssigned tell when it has. Nothing is
// committed until Commit or Run commits it.
//
// When SASL is configured, NewConsumer first asks a broker for metadata
// (bounded by Config.DialTimeout) and returns a permanent error naming the
// mechanism and user when the broker refuses the credentials. A broker that
// cannot be reached does not fail NewConsumer: the consumer keeps trying in
// the background, as without SASL.
func NewConsumer(cfg Config, group string, topics []string, opts ...ConsumerOption) (*Consumer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rapids: consumer config: %w", err)
	}
	o := defaultConsumerOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := validateConsumer(group, topics, o); err != nil {
		return nil, err
	}
	conn, err := newConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("rapids: consumer: %w", err)
	}
	// The Reader retries a refused authentication forever and only logs
	// it: check the credentials once here so a wrong password fails now.
	if err := conn.checkAuth(topics); err != nil {
		conn.close()
		return nil, fmt.Errorf("rapids: consumer: %w", err)
	}
	c := &Consumer{
		conn:       conn,
		group:      group,
		opts:       o,
		log:        cfg.Logger.With("group", group),
		assignedCh: make(chan struct{}),
		rebalanced: make(chan struct{}, 1),
		pending:    make(map[partitionKey]int64),
		position:   make(map[partitionKey]int64),
		lag:        make(map[partitionKey]int64),
		stop:       make(chan struct{}),
	}
	rc := readerConfig(cfg, conn, group, topics, o)
	rc.Logger = kafkaLogger{log: c.log, level: slog.LevelDebug, onAssign: c.assign}
	rc.ErrorLogger = kafkaLogger{log: c.log, level: slog.LevelWarn}
	if c.r, err = newReader(rc); err != nil {
		conn.close()
		return nil, err
	}
	if o.commitInterval > 0 {
		c.flushing.Add(1)
		go c.flushLoop()
	}
	return c, nil
}

// readerConfig is the kafka-go Reader with Watershed's settings. The raw
// kafka-go benchmarks use it too, so both read the same way.
func readerConfig(cfg Config, conn *connection, group string, topics []string, o consumerOptions) kafka.ReaderConfig {
	start := kafka.FirstOffset
	if o.start == Latest {
		start = kafka.LastOffset
	}
	return kafka.ReaderConfig{
		Brokers:               cfg.Brokers,
		GroupID:               group,
		GroupTopics:           topics,
		Dialer:                conn.dialer,
		QueueCapacity:         o.queueCapacity,
		MinBytes:              1,
		MaxBytes:              o.fetchMaxBytes,
		MaxWait:               o.fetchMaxWait,
		ReadLagInterval:       -1,
		HeartbeatInterval:     o.heartbeat,
		CommitInterval:        0, // the Consumer batches commits itself
		SessionTimeout:        o.sessionTimeout,
		RebalanceTimeout:      o.rebalanceTimeout,
		JoinGroupBackoff:      time.Second,
		StartOffset:           start,
		WatchPartitionChanges: true,
	}
}

func newReader(rc kafka.ReaderConfig) (r *kafka.Reader, err error) {
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("rapids: consumer: %w", err)
	}
	defer func() { // kafka-go panics on a configuration it cannot use
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("rapids: consumer: %v", p)
		}
	}()
	return kafka.NewReader(rc), nil
}

func validateConsumer(group string, topics []string, o consumerOptions) error {
	var errs []error
	if group == "" {
		errs = append(errs, errors.New("rapids: consumer: empty group id"))
	}
	if len(topics) == 0 {
		errs = append(errs, errors.New("rapids: consumer: no topics"))
	}
	for _, t := range topics {
		if err := validTopicName(t); err != nil {
			errs = append(errs, fmt.Errorf("rapids: consumer: %w", err))
		}
	}
	if o.sessionTimeout <= 0 || o.heartbeat <= 0 || o.rebalanceTimeout <= 0 || o.fetchMaxWait <= 0 {
		errs = append(errs, errors.New("rapids: consumer: session timeout, heartbeat interval, rebalance timeout and fetch max wait must be positive"))
	} else if o.heartbeat*3 > o.sessionTimeout {
		errs = append(errs, fmt.Errorf("rapids: consumer: heartbeat interval %s must be at most a third of the session timeout %s", o.heartbeat, o.sessionTimeout))
	}
	if o.commitInterval < 0 {
		errs = append(errs, fmt.Errorf("rapids: consumer: negative commit interval %s", o.commitInterval))
	}
	if err := o.retry.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// assign is called by kafka-go's Reader when a group generation assigns it
// partitions. Offsets collected for the previous generation are dropped:
// the new generation restarts each partition at its committed offset, so
// those records are delivered again (at-least-once).
func (c *Consumer) assign(assigned map[TopicPartition]int64) {
	c.partitions.Store(int64(len(assigned)))
	c.mu.Lock()
	c.assignment = assigned
	clear(c.lag)
	clear(c.pending)
	clear(c.position)
	for tp, off := range assigned {
		if off >= 0 {
			c.position[partitionKey{tp.Topic, tp.Partition}] = off
		}
	}
	c.mu.Unlock()
	c.assignedOnce.Do(func() { close(c.assignedCh) })
	select {
	case c.rebalanced <- struct{}{}:
	default:
	}
}

// Rebalanced returns a channel that receives after each group generation
// assigned the consumer its partitions (Assignment then returns them):
// once per generation, coalesced when the receiver is slow. kafka-go
// starts reading the new partitions just before it signals, so a record of
// a newly assigned partition may be fetched before the signal arrives.
func (c *Consumer) Rebalanced() <-chan struct{} { return c.rebalanced }

// Assigned reports whether the consumer has joined its group and received
// its partitions: the readiness of a service. It stays true across
// rebalances.
func (c *Consumer) Assigned() bool {
	select {
	case <-c.assignedCh:
		return true
	default:
		return false
	}
}

// AssignedPartitions returns how many partitions the latest group
// generation gave this consumer; 0 before it joined, and when the group has
// more members than partitions.
func (c *Consumer) AssignedPartitions() int { return int(c.partitions.Load()) }

// Assignment returns the partitions the latest group generation gave this
// consumer, each with the offset it started reading at (the group's
// committed offset; negative when there was none). Nil before it joined.
func (c *Consumer) Assignment() map[TopicPartition]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.assignment)
}

// WaitAssigned blocks until Assigned is true or ctx ends.
func (c *Consumer) WaitAssigned(ctx context.Context) error {
	select {
	case <-c.assignedCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rapids: waiting for group %s to assign partitions: %w", c.group, ctx.Err())
	}
}

// Fetch returns the next record, blocking until one arrives or ctx ends.
// Records of one partition come in offset order. A fetched record is not
// committed: pass it to Commit once processed.
func (c *Consumer) Fetch(ctx context.Context) (Record, error) {
	if c.closed.Load() {
		return Record{}, ErrClosed
	}
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		switch {
		case errors.Is(err, io.EOF) || c.closed.Load():
			return Record{}, ErrClosed
		case ctx.Err() != nil:
			return Record{}, fmt.Errorf("rapids: fetch: %w", err)
		}
		return Record{}, fmt.Errorf("rapids: fetch for group %s: %w", c.group, err)
	}
	c.mu.Lock()
	c.lag[partitionKey{m.Topic, m.Partition}] = max(m.HighWaterMark-m.Offset-1, 0)
	c.mu.Unlock()
	return fromKafka(m), nil
}

// Commit marks records as processed. Kafka keeps one offset per partition,
// so committing a record commits every earlier record of its partition.
// With a commit interval (the default) the offsets are sent by a background
// loop and by Close, and Commit returns at once; with WithCommitInterval(0)
// Commit returns once the broker has stored them. A record before the
// group's position (the offset the partition was assigned at, or a record
// committed earlier) is ignored: an older commit never moves it back.
func (c *Consumer) Commit(ctx context.Context, records ...Record) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.mu.Lock()
	for _, r := range records {
		k := partitionKey{r.Topic, r.Partition}
		if pos, ok := c.position[k]; ok && r.Offset < pos {
			continue // the group is past it already
		}
		c.position[k] = r.Offset + 1
		if off, ok := c.pending[k]; !ok || r.Offset > off {
			c.pending[k] = r.Offset
		}
	}
	c.mu.Unlock()
	if c.opts.commitInterval > 0 {
		return nil
	}
	return c.flush(ctx)
}

// flush sends the pending offsets. On failure they stay pending, unless a
// newer offset was committed meanwhile.
func (c *Consumer) flush(ctx context.Context) error {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return nil
	}
	batch := c.pending
	c.pending = make(map[partitionKey]int64, len(batch))
	c.mu.Unlock()

	msgs := make([]kafka.Message, 0, len(batch))
	for k, off := range batch {
		msgs = append(msgs, kafka.Message{Topic: k.topic, Partition: k.partition, Offset: off})
	}
	err := c.r.CommitMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	c.mu.Lock()
	for k, off := range batch {
		if cur, ok := c.pending[k]; !ok || off > cur {
			c.pending[k] = off
		}
	}
	c.mu.Unlock()
	if errors.Is(err, io.ErrClosedPipe) {
		return ErrClosed
	}
	return fmt.Errorf("rapids: commit %d partitions for group %s: %w", len(batch), c.group, err)
}

func (c *Consumer) flushLoop() {
	defer c.flushing.Done()
	t := time.NewTicker(c.opts.commitInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.sessionTimeout)
			if err := c.flush(ctx); err != nil {
				c.log.Warn("rapids: background commit failed; will retry", "err", err)
			}
			cancel()
		}
	}
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int
}

// EndOffsets asks the broker for the end offset (the offset the next record
// will get) of every partition assigned to the consumer or fetched from
// since its last assignment: with what it has handled, whether it has read
// everything there is, now.
func (c *Consumer) EndOffsets(ctx context.Context) (map[TopicPartition]int64, error) {
	c.mu.Lock()
	parts := map[TopicPartition]bool{}
	for k := range c.lag {
		parts[TopicPartition{k.topic, k.partition}] = true
	}
	for tp := range c.assignment {
		parts[tp] = true
	}
	c.mu.Unlock()
	req := &kafka.ListOffsetsRequest{Addr: c.conn.addr, Topics: map[string][]kafka.OffsetRequest{}}
	for tp := range parts {
		req.Topics[tp.Topic] = append(req.Topics[tp.Topic], kafka.LastOffsetOf(tp.Partition))
	}
	if len(req.Topics) == 0 {
		return nil, nil
	}
	client := &kafka.Client{Addr: c.conn.addr, Transport: c.conn.transport, Timeout: c.conn.timeout}
	res, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("rapids: end offsets for group %s: %w", c.group, err)
	}
	out := map[TopicPartition]int64{}
	for t, ps := range res.Topics {
		for _, p := range ps {
			if p.Error == nil {
				out[TopicPartition{t, p.Partition}] = p.LastOffset
			}
		}
	}
	return out, nil
}

// Lag returns how many records the consumer is behind on the partitions it
// has fetched from since its last assignment: for each, the high watermark
// seen with the last fetched record minus that record's offset plus one.
func (c *Consumer) Lag() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, l := range c.lag {
		n += l
	}
	return n
}

// CloseWithoutCommit closes the consumer as a crash would leave the
// group's offsets: the offsets committed since the last background commit
// are dropped, not sent (a batch the background loop is sending as it is
// called may still land). It then leaves the group, so the partitions move
// at once (a crashed process leaves only when its session times out). For
// tests that kill a member mid-stream.
func (c *Consumer) CloseWithoutCommit() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.mu.Lock()
	clear(c.pending)
	c.mu.Unlock()
	close(c.stop)
	c.flushing.Wait()
	err := c.r.Close()
	c.conn.close()
	return err
}

// Close commits the offsets still pending, leaves the group (so its
// partitions move to other members at once) and closes the connections.
// Records fetched but not committed are delivered again. It returns the
// final commit's error, and is safe to call more than once.
func (c *Consumer) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	close(c.stop)
	c.flushing.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.sessionTimeout)
	err := c.flush(ctx)
	cancel()
	if cerr := c.r.Close(); err == nil {
		err = cerr
	}
	c.conn.close()
	return err
}
