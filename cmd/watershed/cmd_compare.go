package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/services/registry/registry"
)

func newCompareCmd() *cobra.Command {
	var (
		base   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "compare <service>",
		Short: "Compare the versions of a service running side by side: answers, accuracy, latency",
		Long: `compare asks the registry (GET /v1/compare/<service>) how the versions of a
service that answer the same needs (rivers need/solution) compare, and
prints one line per version:

  ANSWERS    solutions it published
  CHOSEN     how many of them the asker took
  TRUED-UP   answers whose actual read arrived later (their true-up)
  MAE-KWH    mean |answer - actual register| over those, kWh
  BIAS-KWH   mean answer - actual (negative: low)
  LATENCY    mean and max time from the need to its solution
  LIVE       its instances the registry sees now

An operator retires the loser by stopping its instances. The registry's
address is --registry, else $WATERSHED_REGISTRY, else that of the watershed
dev running with its data in ./.watershed, else http://127.0.0.1:8080.`,
		Example: `  watershed compare billing-estimator
  watershed compare billing-estimator --json | jq '.versions[] | {version, mean_abs_error_kwh}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if base == "" {
				base = os.Getenv(envRegistry)
			}
			if dev, ok := runningDev(); base == "" && ok && dev.Registry != "" {
				base = dev.Registry
			}
			if base == "" {
				base = defaultRegistry
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			body, err := fetchCompare(ctx, base, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(body)
				return err
			}
			var sc registry.ServiceComparison
			if err := json.Unmarshal(body, &sc); err != nil {
				return fmt.Errorf("registry at %s: unexpected answer: %w", base, err)
			}
			return printCompare(cmd.OutOrStdout(), sc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&base, "registry", "", "registry base URL (default: $WATERSHED_REGISTRY, else "+defaultRegistry+")")
	f.BoolVar(&asJSON, "json", false, "print the registry's JSON as is")
	return cmd
}

func fetchCompare(ctx context.Context, base, service string) ([]byte, error) {
	path := "/v1/compare/" + url.PathEscape(service)
	body, status, err := registryGet(ctx, base, path)
	switch {
	case err != nil:
		return nil, err
	case status == http.StatusOK:
		return body, nil
	case status == http.StatusNotFound:
		return nil, fmt.Errorf("registry at %s: no version of %s has answered a need yet (is it running, and does it answer needs?)", base, service)
	}
	return nil, fmt.Errorf("registry at %s: GET %s: %d %s", base, path, status, http.StatusText(status))
}

// printCompare writes one row per version.
func printCompare(w io.Writer, sc registry.ServiceComparison) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tVERSION\tMETHODS\tANSWERS\tCHOSEN\tTRUED-UP\tMAE-KWH\tBIAS-KWH\tLATENCY-MEAN\tLATENCY-MAX\tLIVE")
	for _, v := range sc.Versions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", sc.Service, v.Version, orDash(strings.Join(v.Methods, ",")),
			v.Answers, v.Chosen, v.TruedUp, kwh(v.MeanAbsErrorKWh), kwh(v.MeanErrorKWh),
			msText(v.MeanLatencyMS), msText(v.MaxLatencyMS), strconv.Itoa(v.Instances))
	}
	return tw.Flush()
}

func kwh(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

func msText(ms float64) string {
	return (time.Duration(ms * float64(time.Millisecond))).Round(time.Millisecond).String()
}
