package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/ponds/archive"
)

// envPond names the pond's bucket URL when --pond is not given.
const envPond = "WATERSHED_POND"

// defaultPond is where `watershed dev` keeps its pond.
const defaultPond = "./.watershed/pond"

// pondFlags are the flags ponds ls and cat share.
type pondFlags struct {
	pond, topic, typ, from, to string
}

func (f *pondFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.pond, "pond", "", "the pond's bucket: a folder, file://, s3://, gs:// or azblob:// URL (default: "+envPond+", else "+defaultPond+")")
	fs.StringVar(&f.topic, "topic", "", "only this topic (default: all)")
	fs.StringVar(&f.typ, "type", "", "only this ce_type, e.g. meter.reading.v1")
	fs.StringVar(&f.from, "from", "", "only events at or after this time: RFC 3339, a date (2025-03-01) or a duration ago (24h)")
	fs.StringVar(&f.to, "to", "", "only events before this time: RFC 3339, a date or a duration ago")
}

// filter returns the bucket URL and the archive filter of the flags.
func (f *pondFlags) filter(now time.Time) (string, archive.Filter, error) {
	url := f.pond
	if url == "" {
		url = os.Getenv(envPond)
	}
	if dev, ok := runningDev(); url == "" && ok && dev.Pond != "" {
		url = dev.Pond
	}
	if url == "" {
		url = defaultPond
	}
	// Opening a folder bucket creates the folder: a mistyped or missing
	// pond would list nothing and succeed.
	if dir, local := localPath(url); local {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return "", archive.Filter{}, fmt.Errorf("no pond at %s: pass --pond, set %s, or start `watershed dev`, which writes %s", dir, envPond, defaultPond)
		}
	}
	flt := archive.Filter{Topic: f.topic, Type: f.typ}
	var err error
	if flt.From, err = parsePondTime(f.from, now); err != nil {
		return "", flt, fmt.Errorf("--from: %w", err)
	}
	if flt.To, err = parsePondTime(f.to, now); err != nil {
		return "", flt, fmt.Errorf("--to: %w", err)
	}
	if !flt.From.IsZero() && !flt.To.IsZero() && !flt.To.After(flt.From) {
		return "", flt, fmt.Errorf("--to %s is not after --from %s", f.to, f.from)
	}
	return url, flt, nil
}

// localPath returns the folder of a pond URL that names one (a path or
// file://).
func localPath(url string) (string, bool) {
	if dir, ok := strings.CutPrefix(url, "file://"); ok {
		return dir, true
	}
	return url, !strings.Contains(url, "://")
}

// parsePondTime also takes a date: its UTC midnight.
func parsePondTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d, nil
	}
	return parseWhen(s, now)
}

func newPondsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ponds",
		Short: "List and read the object-store pond (archived events in Parquet)",
		Long: `ponds reads the object-store pond the archivers write: Parquet files laid out
<topic>/ce_type=<ce_type>/date=YYYY-MM-DD/<topic>+<partition>+<first offset>.parquet
in a bucket (a folder, S3 or any S3-compatible store, GCS, Azure).

The pond is --pond, else $` + envPond + `, else ` + defaultPond + ` (where
watershed dev writes it). For s3:// give the endpoint and region in the URL
for S3-compatible stores (s3://bucket?endpoint=http://host:9000&use_path_style=true&region=us-east-1)
and credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
	}
	cmd.AddCommand(newPondsLsCmd(), newPondsCatCmd())
	return cmd
}

func newPondsLsCmd() *cobra.Command {
	var f pondFlags
	var urls, asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the pond's Parquet files",
		Example: "  watershed ponds ls --type meter.reading.v1 --from 2025-03-01 --to 2025-03-02\n" +
			"  watershed ponds ls --pond 's3://pond?region=eu-west-1' --url > files.txt   # for DuckDB",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url, flt, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			b, err := archive.OpenBucket(ctx, url)
			if err != nil {
				return err
			}
			defer b.Close()
			objs, err := archive.List(ctx, b, flt)
			if err != nil {
				return err
			}
			return printObjects(cmd.OutOrStdout(), url, objs, urls, asJSON)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&urls, "url", false, "print each file's path or URL alone, one a line (for DuckDB, pandas, Spark)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object a line")
	return cmd
}

func printObjects(w io.Writer, pond string, objs []archive.Object, urls, asJSON bool) error {
	switch {
	case urls:
		for _, o := range objs {
			u, err := archive.ObjectURL(pond, o.Key)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, u)
		}
		return nil
	case asJSON:
		enc := json.NewEncoder(w)
		for _, o := range objs {
			if err := enc.Encode(struct {
				Key         string    `json:"key"`
				Topic       string    `json:"topic"`
				Type        string    `json:"type"`
				Date        string    `json:"date"`
				Partition   int       `json:"partition"`
				FirstOffset int64     `json:"first_offset"`
				Size        int64     `json:"size"`
				ModTime     time.Time `json:"mod_time"`
			}{o.Key, o.Topic, o.Type, o.Date, o.Partition, o.FirstOffset, o.Size, o.ModTime}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tTYPE\tDATE\tPARTITION\tFIRST OFFSET\tBYTES\tKEY")
	for _, o := range objs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", o.Topic, o.Type, o.Date, o.Partition, o.FirstOffset, strconv.FormatInt(o.Size, 10), o.Key)
	}
	return tw.Flush()
}

func newPondsCatCmd() *cobra.Command {
	var f pondFlags
	var format string
	var limit int
	cmd := &cobra.Command{
		Use:   "cat",
		Short: "Print archived events as JSON lines, CSV or a table",
		Long: `cat prints the archived events that match the filters, file by file in
ls order: as JSON lines (topic, partition, offset, record_time and the event
in CloudEvents structured JSON), or as CSV or an aligned table with one
column per envelope attribute and one per payload member of the catalog
types present (named as in the Parquet files), then data: the members no
column holds (all of the payload for types outside the catalog). Times
filter on the event time (ce_time).`,
		Example: "  watershed ponds cat --type meter.reading.v1 --from 2h\n" +
			"  watershed ponds cat --type meter.reading.v1 --from 2025-03-01 --to 2025-03-02 --format csv > reads.csv",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url, flt, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			if format != "jsonl" && format != "csv" && format != "table" {
				return fmt.Errorf("--format %q: want jsonl, csv or table", format)
			}
			ctx := cmd.Context()
			b, err := archive.OpenBucket(ctx, url)
			if err != nil {
				return err
			}
			defer b.Close()
			rows := archive.Rows(ctx, b, flt)
			if limit > 0 {
				rows = firstN(rows, limit)
			}
			switch format {
			case "csv", "table":
				objs, err := archive.List(ctx, b, flt) // the types, for the header
				if err != nil {
					return err
				}
				write := archive.WriteCSV
				if format == "table" {
					write = archive.WriteTable
				}
				_, err = write(cmd.OutOrStdout(), archive.Types(objs), rows)
				return err
			}
			_, err = archive.WriteJSONLines(cmd.OutOrStdout(), rows)
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&format, "format", "jsonl", "jsonl, csv or table")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many events (0: all)")
	return cmd
}

// firstN yields at most n of rows.
func firstN(rows iter.Seq2[archive.Row, error], n int) iter.Seq2[archive.Row, error] {
	return func(yield func(archive.Row, error) bool) {
		i := 0
		for r, err := range rows {
			if i == n || !yield(r, err) || err != nil {
				return
			}
			i++
		}
	}
}
