package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/watershed-grid/watershed/rapids"
)

// DefaultAddr is where the embedded broker listens unless told otherwise:
// where rapids.Config looks for a broker by default.
const DefaultAddr = rapids.DefaultBroker

// Options configure an embedded broker. The zero value is a broker on
// 127.0.0.1:9092 that keeps its data in memory and has Watershed's four
// topics.
type Options struct {
	// Addr is the "host:port" to listen on. Default "127.0.0.1:9092"; port 0
	// picks a free port (read it back with Broker.Addr). The host is also
	// the address the broker advertises to clients.
	Addr string
	// DataDir is where the broker keeps its records, committed offsets and
	// topics, so they survive a restart on the same directory. Empty keeps
	// everything in memory, lost on Close.
	DataDir string
	// Partitions, when positive, is the partition count of every topic the
	// broker creates at start; 0 means the rapids defaults (6 for the rapids
	// topic, 3 for the others).
	Partitions int
	// Topics are the topics created at start when absent, each with one
	// replica. Nil means rapids.DefaultTopicSpecs(rapids.DefaultConfig()):
	// rapids, rivers, rapids.dlq and rivers.dlq.
	Topics []rapids.TopicSpec
	// Logger receives the broker's warnings and errors. Default
	// slog.Default().
	Logger *slog.Logger
	// RetentionBytes bounds every partition of the topics Start creates to
	// about this many bytes (retention.bytes): the broker keeps its records
	// in memory, so this bounds its memory. 0 leaves the topics unbounded
	// in size (their retention.ms still applies).
	RetentionBytes int64
	// RetentionCheck is how often the broker drops records past their
	// topic's retention.ms or retention.bytes. Default
	// DefaultRetentionCheck.
	RetentionCheck time.Duration
}

// DefaultRetentionCheck is Options.RetentionCheck's default.
const DefaultRetentionCheck = 10 * time.Second

// Broker is a running in-process broker. It speaks the Kafka protocol, so
// any Kafka client (kafka-go, franz-go, librdkafka's kcat, Java) can use it.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	once    sync.Once
	stop    chan struct{}
	stopped chan struct{}
}

// Start starts a broker and creates its topics. ctx bounds the start only;
// the broker runs until Close.
func Start(ctx context.Context, opts Options) (*Broker, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
		return nil, fmt.Errorf("embedded: address %q: %w (want host:port, e.g. 127.0.0.1:9092)", opts.Addr, err)
	}
	if opts.Partitions < 0 {
		return nil, fmt.Errorf("embedded: partitions %d: want 0 (defaults) or more", opts.Partitions)
	}
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("embedded: data dir: %w", err)
		}
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("watershed-embedded"),
		// kfake listens on 127.0.0.1:<port>; listen where asked instead.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, opts.Addr) }),
		kfake.WithLogger(slogLogger{opts.Logger}),
	}
	if opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: start broker on %s: %w", opts.Addr, err)
	}
	b := &Broker{cluster: c, addr: c.ListenAddrs()[0], stop: make(chan struct{}), stopped: make(chan struct{})}
	if opts.RetentionCheck <= 0 {
		opts.RetentionCheck = DefaultRetentionCheck
	}
	go b.applyRetention(opts.RetentionCheck)

	specs := opts.Topics
	if specs == nil {
		specs = rapids.DefaultTopicSpecs(rapids.DefaultConfig())
	}
	specs = append([]rapids.TopicSpec(nil), specs...)
	for i := range specs {
		if opts.Partitions > 0 {
			specs[i].Partitions = opts.Partitions
		}
		// One node holds one replica, whatever KAFKA_REPLICATION_FACTOR
		// says for the production cluster.
		specs[i].ReplicationFactor = 1
		if opts.RetentionBytes > 0 {
			specs[i].Configs = maps.Clone(specs[i].Configs)
			if specs[i].Configs == nil {
				specs[i].Configs = map[string]string{}
			}
			specs[i].Configs["retention.bytes"] = strconv.FormatInt(opts.RetentionBytes, 10)
		}
	}
	if len(specs) > 0 {
		cfg := rapids.Config{Brokers: []string{b.addr}, ClientID: "watershed-embedded", Logger: opts.Logger}
		if err := rapids.EnsureTopics(ctx, cfg, specs...); err != nil {
			return nil, errors.Join(fmt.Errorf("embedded: %w", err), b.Close())
		}
	}
	return b, nil
}

// Addr returns the "host:port" the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker. With a DataDir it first writes its state there, so
// a broker started on the same directory has the same topics, records and
// committed offsets. It is safe to call more than once.
func (b *Broker) Close() error {
	b.once.Do(func() {
		close(b.stop)
		<-b.stopped
		b.cluster.Close()
	})
	return nil
}

// applyRetention enforces the topics' retention every period: kfake
// applies retention only when asked (or hourly).
func (b *Broker) applyRetention(period time.Duration) {
	defer close(b.stopped)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.cluster.ApplyRetention()
		}
	}
}

// slogLogger forwards kfake's warnings and errors to slog.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var sl slog.Level
	switch level {
	case kfake.LogLevelError:
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
	default:
		return // info and debug log every request
	}
	if l.log.Enabled(context.Background(), sl) {
		l.log.Log(context.Background(), sl, "kfake: "+fmt.Sprintf(msg, args...))
	}
}
