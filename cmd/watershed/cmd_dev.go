package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/cmd/watershed/internal/ecosystem"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
)

func newDevCmd() *cobra.Command {
	var (
		dataDir  string
		addr     string
		external bool
		meters   int
		speed    float64
		httpPort int
		mqtt     bool
		verbose  bool

		retentionBytes int64
		pprofAddr      string
		memoryLimit    int64
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole ecosystem locally: embedded broker and every service on a simulated fleet",
		Long: `dev starts an embedded Kafka-protocol broker and every service in this
process, on a simulated fleet of meters at an accelerated clock, keeps all
data under --data-dir, restarts a service that crashes, and stops cleanly
on Ctrl-C.

Each service reads its own environment variables exactly as when it runs as
its own process (SIM_*, GAP_*, ...; see services/<name>/README.md). With
--external the services use the brokers in KAFKA_BROKERS instead of an
embedded one.`,
		Example: `  watershed dev
  watershed dev --meters 50000 --speed 3600
  KAFKA_BROKERS=127.0.0.1:19092 watershed dev --external`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			kcfg, err := rapids.ConfigFromEnv()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dataDir, 0o755); err != nil {
				return fmt.Errorf("--data-dir %s: %w", dataDir, err)
			}
			if _, set := os.LookupEnv("GOMEMLIMIT"); !set && memoryLimit > 0 {
				// Sixteen services share one heap: collect before it doubles.
				debug.SetMemoryLimit(memoryLimit)
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			logFile, err := os.OpenFile(filepath.Join(dataDir, "services.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("--data-dir %s: %w", dataDir, err)
			}
			defer logFile.Close()
			// Services log JSON to a file; the terminal gets warnings and the map.
			svcLog := slog.New(slog.NewJSONHandler(io.MultiWriter(logFile, levelFilter{cmd.ErrOrStderr(), verbose}),
				&slog.HandlerOptions{Level: slog.LevelInfo}))
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))

			brokerDesc := strings.Join(kcfg.Brokers, ",") + " (external)"
			if !external {
				b, err := embedded.Start(ctx, embedded.Options{
					Addr:    addr,
					DataDir: filepath.Join(dataDir, "kafka"),
					Topics:  rapids.DefaultTopicSpecs(kcfg),
					Logger:  log,

					RetentionBytes: retentionBytes,
				})
				if err != nil {
					return fmt.Errorf("embedded broker on %s: %w (is another broker running there? use --addr)", addr, err)
				}
				defer b.Close()
				kcfg.Brokers = []string{b.Addr()}
				brokerDesc = b.Addr() + " (embedded, data in " + filepath.Join(dataDir, "kafka") + ")"
			} else if err := rapids.EnsureTopics(ctx, kcfg); err != nil {
				return err
			}

			// Without REDIS_URL the hot pond gets an in-process server that
			// speaks the Redis protocol (dev only: it keeps nothing on disk).
			redisURL, redisDesc := "", os.Getenv("REDIS_URL")
			if redisDesc == "" {
				mr := miniredis.NewMiniRedis()
				if err := mr.StartAddr("127.0.0.1:0"); err != nil {
					return fmt.Errorf("in-process Redis: %w", err)
				}
				defer mr.Close()
				redisURL = "redis://" + mr.Addr() + "/0"
				redisDesc = redisURL + " (in-process, set REDIS_URL for a real Redis)"
			}
			members, err := ecosystem.Members(ecosystem.DevOptions{
				RedisURL: redisURL,
				DataDir:  dataDir,
				Meters:   meters,
				Speed:    speed,
				MQTT:     mqtt,
				Versions: moduleVersions("modules.txt"),
			})
			if err != nil {
				return err
			}
			eco, err := ecosystem.New(ecosystem.Options{
				Kafka:         kcfg,
				HTTPPort:      httpPort,
				Logger:        log,
				ServiceLogger: svcLog,
			}, members...)
			if err != nil {
				return err
			}
			if pprofAddr != "" {
				stop, err := servePprof(pprofAddr)
				if err != nil {
					return err
				}
				defer stop()
				fmt.Fprintf(out, "profiles: http://%s/debug/pprof/ (go tool pprof http://%s/debug/pprof/heap)\n", pprofAddr, pprofAddr)
			}
			printMap(out, brokerDesc, redisDesc, dataDir, eco.Statuses())
			err = eco.Run(ctx)
			fmt.Fprintln(out, "watershed dev: stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "./.watershed", "directory for everything the ecosystem keeps (broker data, checkpoints, ponds, logs)")
	f.StringVar(&addr, "addr", embedded.DefaultAddr, "host:port of the embedded broker")
	f.Int64Var(&memoryLimit, "memory-limit", 768<<20, "soft memory limit of the process in bytes (Go's GOMEMLIMIT, which wins when set); 0: none")
	f.StringVar(&pprofAddr, "pprof", "127.0.0.1:6060", "host:port of Go's profiles (/debug/pprof/) for the whole process; empty: off")
	f.Int64Var(&retentionBytes, "retention-bytes", 64<<20, "the embedded broker keeps at most about this many bytes per partition (it holds its records in memory); 0: no bound")
	f.BoolVar(&external, "external", false, "use the brokers in KAFKA_BROKERS instead of an embedded broker")
	f.IntVar(&meters, "meters", 10000, "simulated meters (overrides SIM_METERS)")
	f.Float64Var(&speed, "speed", 0, "grid seconds per wall second (0: SIM_SPEED or the simulator's default)")
	f.IntVar(&httpPort, "http-port", 8100, "HTTP port of the first service (/healthz, /readyz, /metrics); the others follow; 0 picks free ports")
	f.BoolVar(&mqtt, "mqtt", false, "also run the mqtt-gateway (needs an MQTT broker at MQTT_URL)")
	f.BoolVar(&verbose, "verbose", false, "print every service's log lines, not only warnings")
	return cmd
}

func printMap(w io.Writer, broker, redis, dataDir string, st []ecosystem.Status) {
	fmt.Fprintf(w, "watershed dev: broker %s\n", broker)
	fmt.Fprintf(w, "hot pond: %s\n", redis)
	fmt.Fprintf(w, "history pond: %s (watershed ponds ls --pond %s)\n", filepath.Join(dataDir, "pond"), filepath.Join(dataDir, "pond"))
	fmt.Fprintf(w, "service logs: %s\n\n", filepath.Join(dataDir, "services.log"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tVERSION\tHEALTH\tMETRICS")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%s\thttp://%s/readyz\thttp://%s/metrics\n", s.Name, orDash(s.Version), s.HTTPAddr, s.HTTPAddr)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nwatch it:  go run ./cmd/watershed tap rivers\n")
	registry := "http://127.0.0.1:8080"
	for _, s := range st {
		if s.Name == "registry" {
			registry = "http://" + s.HTTPAddr
		}
	}
	fmt.Fprintf(w, "           go run ./cmd/watershed services --registry %s\n", registry)
	fmt.Fprintf(w, "           go run ./cmd/watershed dlq ls\n")
	fmt.Fprintf(w, "Ctrl-C stops everything (started %s)\n", time.Now().Format(time.TimeOnly))
}

// moduleVersions reads the services' versions from the repository's
// modules.txt ("services/<name> vX.Y.Z" lines) when dev runs from the
// repository; elsewhere the services report their build's version.
func moduleVersions(path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && strings.HasPrefix(fields[0], "services/") {
			out[strings.TrimPrefix(fields[0], "services/")] = fields[1]
		}
	}
	return out
}

// levelFilter passes only warnings and errors to the terminal unless verbose.
type levelFilter struct {
	w       io.Writer
	verbose bool
}

func (l levelFilter) Write(p []byte) (int, error) {
	if l.verbose || strings.Contains(string(p), `"level":"WARN"`) || strings.Contains(string(p), `"level":"ERROR"`) {
		if _, err := l.w.Write(p); err != nil && !errors.Is(err, os.ErrClosed) {
			return 0, err
		}
	}
	return len(p), nil
}

// servePprof serves Go's profiling handlers on addr, for measuring the
// whole dev process (heap, CPU, goroutines) before deciding what to fix.
func servePprof(addr string) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof %s: %w (pass --pprof '' to turn profiles off)", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() { _ = srv.Close() }, nil
}
