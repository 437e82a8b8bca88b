package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/services/dlq-replayer/dlq"
)

// dlqFlags are the flags every dlq subcommand shares.
type dlqFlags struct {
	brokers    []string
	topics     []string
	typ        string
	errorMatch string
	since      string
	until      string
	limit      int
	idle       time.Duration
	asJSON     bool
}

func (f *dlqFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSliceVar(&f.brokers, "brokers", nil, "broker host:port list (default: KAFKA_BROKERS, else the running watershed dev's, else 127.0.0.1:9092)")
	fs.StringSliceVar(&f.topics, "topic", nil, "dead-letter topics to read (default: the rivers' and rapids' .dlq topics)")
	fs.StringVar(&f.typ, "type", "", "only letters of this ce_type")
	fs.StringVar(&f.errorMatch, "error", "", "only letters of this error class (schema, permanent, ...) or whose error contains this text")
	fs.StringVar(&f.since, "since", "", "only letters dead-lettered at or after this time (RFC 3339, or a duration ago such as 2h)")
	fs.StringVar(&f.until, "until", "", "only letters dead-lettered before this time (RFC 3339, or a duration ago)")
	fs.IntVar(&f.limit, "limit", 0, "at most this many letters (0: all)")
	fs.DurationVar(&f.idle, "idle", dlq.DefaultIdle, "reads stop at the end offsets taken at start; a partition whose promised records do not come for this long is taken as read (compacted, transaction markers)")
	fs.BoolVar(&f.asJSON, "json", false, "print JSON")
}

// config returns the Kafka configuration and the topics to read.
func (f *dlqFlags) config() (rapids.Config, []string, error) {
	cfg, err := rapids.ConfigFromEnv()
	if err != nil {
		return rapids.Config{}, nil, err
	}
	if brokers := brokersOrDev(f.brokers); len(brokers) > 0 {
		cfg.Brokers = brokers
		if err := cfg.Validate(); err != nil {
			return rapids.Config{}, nil, fmt.Errorf("--brokers: %w", err)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	topics := f.topics
	if len(topics) == 0 {
		topics = dlq.DefaultTopics(cfg)
	}
	return cfg, topics, nil
}

// filter parses the filter flags; now anchors durations ("2h" = 2h ago).
func (f *dlqFlags) filter(now time.Time) (dlq.Filter, error) {
	fl := dlq.Filter{Type: f.typ, Error: f.errorMatch, Limit: f.limit}
	if f.limit < 0 {
		return fl, fmt.Errorf("--limit %d: want 0 (all) or more", f.limit)
	}
	var err error
	if fl.Since, err = parseWhen(f.since, now); err != nil {
		return fl, fmt.Errorf("--since: %w", err)
	}
	if fl.Until, err = parseWhen(f.until, now); err != nil {
		return fl, fmt.Errorf("--until: %w", err)
	}
	return fl, nil
}

// parseWhen reads an RFC 3339 time or a duration before now; "" is zero.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2025-03-01T10:00:00Z) or a duration ago (90m)", s)
}

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show and replay dead-lettered events",
		Long: `dlq reads the dead-letter topics ("<topic>.dlq"), where services put the
events they could not process with the reason (error class and message),
the origin topic, partition and offset, the service and river.

Reading commits nothing. A replay publishes the original event — same id,
so services that de-duplicate drop what they already processed — back to
its origin topic, and counts replays in a header and in a replay marker
on the dead-letter topic: an event replayed --max-replays times, over all
runs, is not replayed again, so a replay cannot loop.

Every command reads up to the end offsets taken when it starts, so it
finishes while services go on writing letters. Text output escapes control
characters from headers (\x1b...).`,
	}
	cmd.AddCommand(newDLQLsCmd(), newDLQShowCmd(), newDLQReplayCmd())
	return cmd
}

func newDLQLsCmd() *cobra.Command {
	var f dlqFlags
	cmd := &cobra.Command{
		Use:     "ls",
		Short:   "Count dead letters by origin topic, type and error class",
		Example: "  watershed dlq ls\n  watershed dlq ls --type meter.reading.v1 --since 24h --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			letters, err := readLetters(cmd, &f)
			if err != nil {
				return err
			}
			counts := dlq.Summarize(letters)
			if f.asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"letters": len(letters), "counts": counts})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ORIGIN\tTYPE\tERROR CLASS\tLETTERS")
			for _, c := range counts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", safe(orDash(c.Origin)), safe(orDash(c.Type)), safe(c.ErrorClass), c.Letters)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d dead letter(s)\n", len(letters))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newDLQShowCmd() *cobra.Command {
	var f dlqFlags
	cmd := &cobra.Command{
		Use:     "show",
		Short:   "Print dead letters one by one: origin, reason and the event",
		Example: "  watershed dlq show --error schema --limit 5\n  watershed dlq show --type usage.interval.v1 --json | jq .",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			letters, err := readLetters(cmd, &f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				for _, l := range letters {
					if err := json.NewEncoder(out).Encode(l); err != nil {
						return err
					}
				}
				return nil
			}
			for _, l := range letters {
				fmt.Fprintf(out, "%s/%d@%d  %s  %s\n", safe(l.DLQTopic), l.DLQPart, l.DLQOffset, l.FailedAt.UTC().Format(time.RFC3339), safe(orDash(l.Type)))
				fmt.Fprintf(out, "  id %s  source %s  key %s\n", safe(orDash(l.ID)), safe(orDash(l.Source)), safe(orDash(l.Key)))
				fmt.Fprintf(out, "  origin %s/%d@%d  service %s  river %s  replays %d\n", safe(orDash(l.OriginTopic)), l.OriginPartition, l.OriginOffset,
					safe(orDash(l.Service)), safe(orDash(l.River)), l.Replays)
				fmt.Fprintf(out, "  %s: %s\n", safe(l.ErrorClass), safe(l.Error))
				if l.Omitted != "" {
					fmt.Fprintf(out, "  left out of the letter (too large): %s; read it at its origin\n", safe(l.Omitted))
				}
				fmt.Fprintf(out, "  data %s\n\n", safe(truncateText(l.Data, 2000)))
			}
			fmt.Fprintf(out, "%d dead letter(s)\n", len(letters))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newDLQReplayCmd() *cobra.Command {
	var (
		f          dlqFlags
		maxReplays int
		dryRun     bool
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Publish dead letters again to their origin topics, with their original ids",
		Long: `replay publishes the dead letters that pass the filters back to their origin
topics: the original key, value and event headers (same ce_id), without the
dead-letter headers, with watershed_replay_count incremented, and writes a
replay marker next to the letter. An event (its ce_id, or for a record
without one, the origin of its first letter) already replayed --max-replays
times, counted over its letters and markers from every run, is skipped, and
so are second copies of one event (dead-lettered by several rivers, or again
after a replay: the origin topic reaches them all). Letters whose record was
too large to keep (dlq_omitted) cannot be replayed.
Fix the cause first; --dry-run shows what would be replayed.`,
		Example: "  watershed dlq replay --type usage.interval.v1 --error permanent --dry-run\n  watershed dlq replay --since 2h --limit 100",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if maxReplays < 1 {
				return fmt.Errorf("--max-replays %d: want 1 or more", maxReplays)
			}
			cfg, topics, err := f.config()
			if err != nil {
				return err
			}
			fl, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			all, err := dlq.Read(cmd.Context(), cfg, topics, f.idle)
			if err != nil {
				return err
			}
			plan := dlq.PlanReplay(all, fl, maxReplays)
			out := cmd.OutOrStdout()
			replayed := 0
			if !dryRun && len(plan.Replay) > 0 {
				p, err := rapids.NewProducer(cfg)
				if err != nil {
					return err
				}
				replayed, err = dlq.Replay(cmd.Context(), p, plan)
				if cerr := p.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
			}
			if f.asJSON {
				return writeJSON(out, map[string]any{"dry_run": dryRun, "replayed": replayed, "plan": plan})
			}
			verb := "replayed"
			if dryRun {
				verb = "would replay"
			}
			for _, l := range plan.Replay {
				fmt.Fprintf(out, "%s %s %s -> %s (replay %d)\n", verb, safe(orDash(l.Type)), safe(orDash(l.ID)), safe(l.OriginTopic), l.Replays+1)
			}
			for _, s := range plan.Skip {
				fmt.Fprintf(out, "skipped %s %s: %s\n", safe(orDash(s.Letter.Type)), safe(orDash(s.Letter.ID)), safe(s.Reason))
			}
			if dryRun {
				replayed = len(plan.Replay)
			}
			fmt.Fprintf(out, "%s %d, skipped %d\n", verb, replayed, len(plan.Skip))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&maxReplays, "max-replays", dlq.DefaultReplayLimit, "skip letters already replayed this many times")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be replayed, publish nothing")
	return cmd
}

// readLetters reads the dead-letter topics and applies the filters.
func readLetters(cmd *cobra.Command, f *dlqFlags) ([]dlq.Letter, error) {
	cfg, topics, err := f.config()
	if err != nil {
		return nil, err
	}
	fl, err := f.filter(time.Now())
	if err != nil {
		return nil, err
	}
	all, err := dlq.Read(cmd.Context(), cfg, topics, f.idle)
	if err != nil {
		return nil, err
	}
	return dlq.Select(all, fl), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// safe escapes what a terminal would interpret in s: control characters
// (ANSI escape sequences among them), C1 controls and invalid UTF-8, as Go
// escapes (\x1b, \u009b). Headers are written by anyone who can produce.
func safe(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}
