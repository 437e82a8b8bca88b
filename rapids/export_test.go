package rapids

import "github.com/segmentio/kafka-go"

// RawWriter returns a kafka-go Writer with exactly the settings a Producer
// of cfg uses, for the raw kafka-go benchmarks.
func RawWriter(cfg Config) (*kafka.Writer, error) {
	cfg = cfg.WithDefaults()
	codec, err := compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	conn, err := newConnection(cfg)
	if err != nil {
		return nil, err
	}
	return newWriter(cfg, conn, codec), nil
}

// RawReaderConfig returns the kafka-go ReaderConfig a Consumer of cfg uses
// with default options, except that kafka-go batches the commits itself
// every DefaultCommitInterval, as the Consumer does.
func RawReaderConfig(cfg Config, group string, topics []string) (kafka.ReaderConfig, error) {
	cfg = cfg.WithDefaults()
	conn, err := newConnection(cfg)
	if err != nil {
		return kafka.ReaderConfig{}, err
	}
	o := defaultConsumerOptions()
	rc := readerConfig(cfg, conn, group, topics, o)
	rc.CommitInterval = DefaultCommitInterval
	return rc, nil
}
