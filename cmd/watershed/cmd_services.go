package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers/landscape"
)

// envRegistry names the variable holding the registry's base URL.
const envRegistry = "WATERSHED_REGISTRY"

// defaultRegistry is where `watershed dev` and a local registry serve.
const defaultRegistry = "http://127.0.0.1:8080"

func newServicesCmd() *cobra.Command {
	var (
		url    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "services",
		Short: "List the live services: versions, instances, what they publish and consume",
		Long: `services asks the registry (GET /v1/services) for every live service, as its
heartbeats describe it, and prints one line per service version: its
instances, the event types it publishes and those its rivers consume.
Passive rivers (archivers, taps, monitors) are marked "(passive)"; the
retirement river every service has is left out.

The registry's address is --registry, else $WATERSHED_REGISTRY, else that of
the watershed dev running with its data in ./.watershed (from its
endpoints.json), else http://127.0.0.1:8080.`,
		Example: `  watershed services
  watershed services --registry http://registry:8080 --json | jq '.services[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				url = os.Getenv(envRegistry)
			}
			if dev, ok := runningDev(); url == "" && ok && dev.Registry != "" {
				url = dev.Registry
			}
			if url == "" {
				url = defaultRegistry
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			body, err := fetchServices(ctx, url)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(body)
				return err
			}
			var resp struct {
				Services []landscape.Service `json:"services"`
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				return fmt.Errorf("registry at %s: unexpected answer: %w", url, err)
			}
			return printServices(cmd.OutOrStdout(), resp.Services)
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "registry", "", "registry base URL (default: $WATERSHED_REGISTRY, else "+defaultRegistry+")")
	f.BoolVar(&asJSON, "json", false, "print the registry's JSON as is")
	return cmd
}

func fetchServices(ctx context.Context, base string) ([]byte, error) {
	body, status, err := registryGet(ctx, base, "/v1/services")
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("registry at %s: GET /v1/services: %d %s", base, status, http.StatusText(status))
	}
	return body, err
}

// registryGet GETs path of the registry at base: the body (up to 32 MiB)
// and the status, or an error that says what to check.
func registryGet(ctx context.Context, base, path string) ([]byte, int, error) {
	u := strings.TrimSuffix(base, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("--registry %q: %w", base, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("registry unreachable (is the registry service running? set --registry or %s): %w", envRegistry, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("registry at %s: %w", base, err)
	}
	return body, resp.StatusCode, nil
}

// printServices writes the table: one row per service version.
func printServices(w io.Writer, services []landscape.Service) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tVERSION\tINSTANCES\tPUBLISHES\tCONSUMES")
	for _, s := range services {
		for _, v := range s.Versions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, v.Version, strconv.Itoa(len(v.Instances)),
				orDash(strings.Join(v.Publishes, ",")), orDash(consumes(v.Subscribes)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Retirement is never a surprise: a notice is printed while there is
	// still time to act on it.
	for _, s := range services {
		for _, v := range s.Versions {
			for _, n := range v.Retiring {
				fmt.Fprintf(w, "notice: %s %s stops publishing %s at %s (%s) unless a service subscribes to it (not passively) before then\n",
					s.Name, v.Version, n.Type, n.EffectiveAt.UTC().Format(time.RFC3339), orDash(n.Reason))
			}
			for _, t := range v.Retired {
				fmt.Fprintf(w, "retired: %s %s no longer publishes %s (nothing subscribes); a subscriber reinstates it\n", s.Name, v.Version, t)
			}
		}
	}
	return nil
}

// consumes describes a version's rivers: active types, then passive ones.
// The SDK's retirement river, which every service has, is left out.
func consumes(rivers []landscape.River) string {
	var active, passive []string
	for _, r := range rivers {
		if len(r.Types) == 1 && r.Types[0] == events.TypeRetirement && !r.Passive {
			continue
		}
		for _, t := range r.Types {
			if r.Passive {
				passive = append(passive, t)
			} else {
				active = append(active, t)
			}
		}
	}
	slices.Sort(active)
	active = slices.Compact(active)
	slices.Sort(passive)
	passive = slices.Compact(passive)
	out := strings.Join(active, ",")
	if len(passive) > 0 {
		p := strings.Join(passive, ",")
		if len(passive) > 4 {
			p = strconv.Itoa(len(passive)) + " types"
		}
		if out != "" {
			out += " "
		}
		out += p + " (passive)"
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
