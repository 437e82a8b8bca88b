package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
)

func newBrokerCmd() *cobra.Command {
	var (
		addr       string
		dataDir    string
		partitions int
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-protocol broker with Watershed's topics until Ctrl-C",
		Long: `broker runs an in-process Kafka-protocol broker (franz-go's kfake) for
development: one node, the rapids, rivers, rapids.dlq and rivers.dlq topics
created when absent, and records, topics and committed offsets kept in
--data-dir so they survive a restart. Any Kafka client can use it.

Topic names, partition counts and retention come from KAFKA_TOPIC_RAPIDS,
KAFKA_TOPIC_RIVERS, KAFKA_PARTITIONS, KAFKA_RIVERS_PARTITIONS, KAFKA_RETENTION
and KAFKA_DLQ_RETENTION, as for the services.`,
		Example: `  watershed broker
  watershed broker --addr 127.0.0.1:19092 --data-dir /tmp/watershed-kafka
  watershed tap rapids   # in another terminal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := rapids.ConfigFromEnv()
			if err != nil {
				return err
			}
			if partitions < 0 {
				return fmt.Errorf("--partitions %d: want 0 (the KAFKA_PARTITIONS defaults) or more", partitions)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			b, err := embedded.Start(cmd.Context(), embedded.Options{
				Addr:       addr,
				DataDir:    dataDir,
				Partitions: partitions,
				Topics:     rapids.DefaultTopicSpecs(cfg),
				Logger:     log,
			})
			if err != nil {
				return err
			}
			parts, err := rapids.TopicPartitions(cmd.Context(), rapids.Config{Brokers: []string{b.Addr()}, Logger: log},
				topicNames(cfg)...)
			if err != nil {
				return errors.Join(err, b.Close())
			}
			var topics []string
			for _, t := range topicNames(cfg) {
				topics = append(topics, fmt.Sprintf("%s (%d partitions)", t, parts[t]))
			}
			where := "in memory"
			if dataDir != "" {
				where = "in " + dataDir
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "watershed broker listening on %s, data %s\n", b.Addr(), where)
			fmt.Fprintf(out, "topics: %s\n", strings.Join(topics, ", "))
			fmt.Fprintf(out, "connect with KAFKA_BROKERS=%s; Ctrl-C to stop\n", b.Addr())
			<-cmd.Context().Done()
			fmt.Fprintln(out, "watershed broker stopping")
			return b.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", embedded.DefaultAddr, "host:port to listen on (port 0 picks a free one)")
	f.StringVar(&dataDir, "data-dir", "./.watershed/kafka", `directory for the broker's data; "" keeps it in memory`)
	f.IntVar(&partitions, "partitions", 0, "partitions of every topic created (0: KAFKA_PARTITIONS for the rapids, KAFKA_RIVERS_PARTITIONS for the others)")
	return cmd
}

func topicNames(cfg rapids.Config) []string {
	specs := rapids.DefaultTopicSpecs(cfg)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}
