package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/services/alert-router/alertrouter"
)

// envAlertRouter names the variable holding the alert-router's base URL.
const envAlertRouter = "WATERSHED_ALERT_ROUTER"

func newAlertsCmd() *cobra.Command {
	var base string
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List alerts, silence them, and see what was delivered (the alert-router's API)",
		Long: `alerts talks to the alert-router's HTTP API: what fires and whether it is
silenced or inhibited, silences, and the history of deliveries to webhooks,
Slack and email (with the notifications that could not be delivered).

The alert-router's address is --url, else $WATERSHED_ALERT_ROUTER, else that
of the watershed dev running with its data in ./.watershed (from its
endpoints.json), else http://127.0.0.1:8080.`,
		Example: `  watershed alerts ls
  watershed alerts silence 'transformer_id="TX-0042"' --for 2h --comment "planned work"
  watershed alerts expire 3f9a1c0e2b7d4a51
  watershed alerts deliveries`,
	}
	cmd.PersistentFlags().StringVar(&base, "url", "", "alert-router base URL (default: $"+envAlertRouter+", else the running dev's, else http://127.0.0.1:8080)")
	api := func() string { return alertRouterURL(base) }

	var all, asJSON bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List firing alerts (--all: resolved ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := "?state=firing"
			if all {
				q = ""
			}
			var resp struct{ Alerts []alertrouter.Alert }
			body, err := call(cmd.Context(), http.MethodGet, api()+"/v1/alerts"+q, nil, &resp)
			if err != nil || asJSON {
				return writeRaw(cmd, body, err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STATE\tALERT\tSEVERITY\tSINCE\tEVENTS\tSUMMARY\tFINGERPRINT")
			for _, a := range resp.Alerts {
				state := a.State
				switch {
				case a.State != alertrouter.StateFiring:
				case len(a.SilencedBy) > 0:
					state = "silenced (" + strings.Join(a.SilencedBy, ",") + ")"
				case a.Inhibited:
					state = "inhibited"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", state, a.Name, a.Labels["severity"],
					a.StartsAt.UTC().Format(time.RFC3339), a.Events, a.Summary, a.Fingerprint)
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVar(&all, "all", false, "resolved alerts too")
	ls.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON as is")

	var (
		dur     time.Duration
		comment string
		author  string
	)
	silence := &cobra.Command{
		Use:   "silence MATCHER...",
		Short: `Mute the alerts all matchers match, e.g. 'transformer_id="TX-0042"' or 'alertname=~"meter_.*"'`,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if comment == "" {
				return fmt.Errorf("--comment is required: say why, for whoever finds the silence")
			}
			req := alertrouter.SilenceRequest{Matchers: args, Duration: dur.String(), CreatedBy: author, Comment: comment}
			var s alertrouter.Silence
			if _, err := call(cmd.Context(), http.MethodPost, api()+"/v1/silences", req, &s); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "silence %s: %s until %s\n", s.ID, strings.Join(s.Matchers, " "), s.EndsAt.Local().Format(time.DateTime))
			return nil
		},
	}
	silence.Flags().DurationVar(&dur, "for", 2*time.Hour, "how long")
	silence.Flags().StringVar(&comment, "comment", "", "why (required)")
	silence.Flags().StringVar(&author, "author", currentUser(), "who")

	silences := &cobra.Command{
		Use:   "silences",
		Short: "List silences, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var resp struct{ Silences []alertrouter.Silence }
			body, err := call(cmd.Context(), http.MethodGet, api()+"/v1/silences", nil, &resp)
			if err != nil || asJSON {
				return writeRaw(cmd, body, err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tMATCHERS\tUNTIL\tBY\tCOMMENT")
			now := time.Now()
			for _, s := range resp.Silences {
				state := "expired"
				if s.Active(now) {
					state = "active"
				} else if now.Before(s.StartsAt) {
					state = "pending"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, state, strings.Join(s.Matchers, " "),
					s.EndsAt.Local().Format(time.DateTime), s.CreatedBy, s.Comment)
			}
			return tw.Flush()
		},
	}
	silences.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON as is")

	expire := &cobra.Command{
		Use:   "expire SILENCE-ID",
		Short: "End a silence now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := call(cmd.Context(), http.MethodDelete, api()+"/v1/silences/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "silence %s expired\n", args[0])
			return nil
		},
	}

	var limit int
	deliveries := &cobra.Command{
		Use:   "deliveries",
		Short: "The latest delivery attempts: receiver, outcome, error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var resp struct{ Deliveries []alertrouter.Delivery }
			body, err := call(cmd.Context(), http.MethodGet, api()+"/v1/deliveries?limit="+strconv.Itoa(limit), nil, &resp)
			if err != nil || asJSON {
				return writeRaw(cmd, body, err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tRECEIVER\tKIND\tOUTCOME\tATTEMPT\tALERTS\tNOTIFICATION\tERROR")
			for _, d := range resp.Deliveries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", d.At.Local().Format(time.DateTime), d.Receiver, d.Kind,
					d.Status, d.Attempt, d.Alerts, d.NotificationID, orDash(d.Error))
			}
			return tw.Flush()
		},
	}
	deliveries.Flags().IntVar(&limit, "limit", 50, "how many")
	deliveries.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON as is")

	dead := &cobra.Command{
		Use:   "dead",
		Short: "Notifications that could not be delivered (retry them with: alerts retry ID)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var resp struct{ Notifications []alertrouter.Notification }
			body, err := call(cmd.Context(), http.MethodGet, api()+"/v1/dead", nil, &resp)
			if err != nil || asJSON {
				return writeRaw(cmd, body, err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRECEIVER\tSTATUS\tALERTS\tATTEMPTS\tERROR")
			for _, n := range resp.Notifications {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", n.ID, n.Receiver, n.Status, len(n.Alerts)+n.Truncated, n.Attempts, n.LastError)
			}
			return tw.Flush()
		},
	}
	dead.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON as is")

	retry := &cobra.Command{
		Use:   "retry NOTIFICATION-ID",
		Short: "Send a dead notification again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := call(cmd.Context(), http.MethodPost, api()+"/v1/dead/"+url.PathEscape(args[0])+"/retry", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "notification %s queued\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(ls, silence, silences, expire, deliveries, dead, retry)
	return cmd
}

// alertRouterURL is --url, else $WATERSHED_ALERT_ROUTER, else the running
// dev's alert-router, else the default service address.
func alertRouterURL(flag string) string {
	u := flag
	if u == "" {
		u = os.Getenv(envAlertRouter)
	}
	if dev, ok := runningDev(); u == "" && ok && dev.Services[alertrouter.Name] != "" {
		u = dev.Services[alertrouter.Name]
	}
	if u == "" {
		u = defaultRegistry // every service's default HTTP address
	}
	return strings.TrimSuffix(u, "/")
}

// call sends a JSON request and decodes the answer into out (when not
// nil); it returns the body as read. An error status returns the API's
// error message.
func call(ctx context.Context, method, u string, in, out any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("alert-router unreachable (is it running? set --url or %s): %w", envAlertRouter, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("alert-router: %s", e.Error)
		}
		return nil, fmt.Errorf("alert-router: %s %s: %s", method, u, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("alert-router at %s: unexpected answer: %w", u, err)
		}
	}
	return b, nil
}

func writeRaw(cmd *cobra.Command, body []byte, err error) error {
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(body)
	return err
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
