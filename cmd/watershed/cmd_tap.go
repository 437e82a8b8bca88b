package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
)

func newTapCmd() *cobra.Command {
	var (
		types         []string
		asJSON        bool
		fromBeginning bool
		brokers       []string
	)
	cmd := &cobra.Command{
		Use:   "tap <topic>",
		Short: "Print the events of a topic as they arrive",
		Long: `tap tails a topic and prints one line per event: its time, type, id,
source and key. With --json it prints each event as CloudEvents structured
JSON instead, one per line, for jq and files.

A record that is not a valid CloudEvent is reported on stderr with its
topic, partition and offset, and the tap goes on. tap reads in a consumer
group of its own and commits nothing, so it never disturbs the services.`,
		Example: `  watershed tap rapids
  watershed tap rivers --type outage.suspected.v1 --type outage.restored.v1
  watershed tap rapids --from-beginning --json | jq .data`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := kafkaConfig(cmd, brokers)
			if err != nil {
				return err
			}
			return tap(cmd, cfg, args[0], tapOptions{types: types, json: asJSON, fromBeginning: fromBeginning})
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&types, "type", nil, "only events of this ce_type (repeat or comma-separate for several)")
	f.BoolVar(&asJSON, "json", false, "print CloudEvents structured JSON, one event per line")
	f.BoolVar(&fromBeginning, "from-beginning", false, "start at the oldest retained event instead of the next one")
	f.StringSliceVar(&brokers, "brokers", nil, "broker host:port list (default: KAFKA_BROKERS, else the watershed dev running in ./.watershed, else 127.0.0.1:9092)")
	return cmd
}

type tapOptions struct {
	types         []string
	json          bool
	fromBeginning bool
}

func tap(cmd *cobra.Command, cfg rapids.Config, topic string, o tapOptions) error {
	ctx := cmd.Context()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	parts, err := rapids.TopicPartitions(ctx, cfg, topic)
	if err != nil {
		return err
	}
	if parts[topic] == 0 {
		return fmt.Errorf("topic %q does not exist on %s", topic, strings.Join(cfg.Brokers, ","))
	}
	start := rapids.Latest
	if o.fromBeginning {
		start = rapids.Earliest
	}
	// A group of its own that never commits: the tap leaves no offsets and
	// takes no partitions from the services.
	group := "watershed-tap-" + randomID()
	c, err := rapids.NewConsumer(cfg, group, []string{topic}, rapids.WithStartOffset(start))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WaitAssigned(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	from := "new events"
	if o.fromBeginning {
		from = "from the beginning"
	}
	fmt.Fprintf(errOut, "tapping %s (%d partitions) on %s, %s; Ctrl-C to stop\n", topic, parts[topic], strings.Join(cfg.Brokers, ","), from)
	for {
		r, err := c.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if rapids.IsRetryable(err) {
				fmt.Fprintf(errOut, "error: %v (retrying)\n", err)
				continue
			}
			return err
		}
		printRecord(out, errOut, r, o)
	}
}

// printRecord prints r, or an error line for a record that is not a valid
// CloudEvent. It never fails: the tap goes on.
func printRecord(out, errOut io.Writer, r rapids.Record, o tapOptions) {
	if len(o.types) > 0 {
		if typ, ok := contracts.HeaderValue(r.Headers, contracts.HeaderType); ok && !slices.Contains(o.types, string(typ)) {
			return
		}
	}
	e, err := contracts.DecodeBinary(r.Message())
	if err != nil {
		fmt.Fprintf(errOut, "error: topic=%s partition=%d offset=%d: %v\n", r.Topic, r.Partition, r.Offset, err)
		return
	}
	if len(o.types) > 0 && !slices.Contains(o.types, e.Type) {
		return
	}
	if o.json {
		b, err := contracts.MarshalStructured(e)
		if err != nil {
			fmt.Fprintf(errOut, "error: topic=%s partition=%d offset=%d: %v\n", r.Topic, r.Partition, r.Offset, err)
			return
		}
		fmt.Fprintf(out, "%s\n", b)
		return
	}
	t := e.Time
	if t.IsZero() {
		t = r.Time
	}
	key := e.PartitionKey
	if key == "" {
		key = "-"
	}
	// The payload in a line (events.Summarize), escaped like every value from
	// the wire: a control character must not reach the operator's terminal.
	fmt.Fprintf(out, "%s  %-28s  %s  %s  key=%s  %s\n", t.UTC().Format("2006-01-02T15:04:05.000Z"), safe(e.Type), safe(e.ID), safe(e.Source), safe(key),
		safe(events.Summarize(e.Type, e.Data)))
}

func randomID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return hex.EncodeToString(b)
}
