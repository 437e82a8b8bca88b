// Command probe is the container healthcheck of every Watershed image: the
// runtime image is distroless (no shell, curl or wget), so compose runs
//
//	probe [-timeout 2s] [url]
//
// inside the container. It GETs url (default http://127.0.0.1:8080/readyz,
// or PROBE_URL when set) and exits 0 on a 2xx answer, 1 otherwise, naming
// the status or the error on stderr. It never follows a redirect: a probe
// that lands somewhere else is a failed probe.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// defaultURL is the readiness endpoint every service serves on HTTP_ADDR's
// default port.
const defaultURL = "http://127.0.0.1:8080/readyz"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run parses args, probes and returns the exit code.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	url := defaultURL
	if v := getenv("PROBE_URL"); v != "" {
		url = v
	}
	switch fs.NArg() {
	case 0:
	case 1:
		url = fs.Arg(0)
	default:
		fmt.Fprintln(stderr, "probe: want at most one URL, e.g. probe http://127.0.0.1:8080/readyz")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := probe(ctx, url); err != nil {
		fmt.Fprintln(stderr, "probe:", err)
		return 1
	}
	return 0
}

// errNotReady is returned for an answer outside 2xx.
var errNotReady = errors.New("not ready")

// probe GETs url and reports whether it answered 2xx before ctx ended.
func probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s: %w", url, resp.Status, errNotReady)
	}
	return nil
}
