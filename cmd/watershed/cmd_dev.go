package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/cmd/watershed/internal/ecosystem"
	"github.com/watershed-grid/watershed/ponds/hot"
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
		redisMode      string
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
			switch redisMode {
			case "auto", "server", "in-process":
			default:
				return fmt.Errorf("--redis %q: want auto, server or in-process", redisMode)
			}
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
				// Twenty-one services share one heap: collect harder near the
				// limit rather than let it double. Set well above the live heap
				// (≈ 650 MB at the defaults): at 768 MiB the collector ran all the
				// time and took half the CPU, and the hot pond fell behind.
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

			// Without REDIS_URL the hot pond gets a redis-server of its own
			// when one is installed (a child process on a free loopback
			// port, no persistence), else an in-process server that speaks
			// the Redis protocol (slower: its Lua runs in Go).
			redisURL, redisDesc := "", hot.RedactURL(os.Getenv("REDIS_URL"))
			if redisDesc == "" && redisMode != "in-process" {
				url, stop, err := startRedisServer(ctx, filepath.Join(dataDir, "redis"))
				switch {
				case err == nil:
					defer stop()
					redisURL, redisDesc = url, url+" (redis-server, child process; set REDIS_URL for your own)"
				case redisMode == "server":
					return fmt.Errorf("--redis server: %w", err)
				default:
					log.Warn("no redis-server for the hot pond; using the in-process one", "err", err)
				}
			}
			if redisDesc == "" {
				mr := miniredis.NewMiniRedis()
				if err := mr.StartAddr("127.0.0.1:0"); err != nil {
					return fmt.Errorf("in-process Redis: %w", err)
				}
				defer mr.Close()
				redisURL = "redis://" + mr.Addr() + "/0"
				redisDesc = redisURL + " (in-process; install redis-server or set REDIS_URL: the hot pond may fall behind at the default load)"
			}
			consoleUsers, err := devConsoleUser(dataDir)
			if err != nil {
				return err
			}
			var eco *ecosystem.Ecosystem
			members, err := ecosystem.Members(ecosystem.DevOptions{
				Addr: func(service string) string {
					for _, s := range eco.Statuses() {
						if s.Name == service {
							return s.HTTPAddr
						}
					}
					return ""
				},
				ConsoleUsers: consoleUsers,
				RedisURL:     redisURL,
				DataDir:      dataDir,
				Meters:       meters,
				Speed:        devSpeed(speed),
				MQTT:         mqtt,
				Versions:     moduleVersions("modules.txt"),
			})
			if err != nil {
				return err
			}
			eco, err = ecosystem.New(ecosystem.Options{
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
			if remove, err := writeEndpoints(dataDir, kcfg.Brokers[0], eco.Statuses()); err != nil {
				log.Warn("endpoints file not written: other commands need their flags", "err", err)
			} else {
				defer remove()
			}
			printMap(out, kcfg.Brokers[0], brokerDesc, redisDesc, dataDir, eco.Statuses())
			err = eco.Run(ctx)
			fmt.Fprintln(out, "watershed dev: stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", defaultDataDir, "directory for everything the ecosystem keeps (broker data, checkpoints, ponds, logs)")
	f.StringVar(&addr, "addr", embedded.DefaultAddr, "host:port of the embedded broker")
	f.StringVar(&redisMode, "redis", "auto", "the hot pond's Redis without REDIS_URL: auto (redis-server from PATH when installed, else in-process), server, or in-process")
	f.Int64Var(&memoryLimit, "memory-limit", 2<<30, "soft memory limit of the process in bytes (Go's GOMEMLIMIT, which wins when set); 0: none")
	f.StringVar(&pprofAddr, "pprof", "127.0.0.1:6060", "host:port of Go's profiles (/debug/pprof/) for the whole process; empty: off")
	f.Int64Var(&retentionBytes, "retention-bytes", 64<<20, "the embedded broker keeps at most about this many bytes per partition (it holds its records in memory); 0: no bound")
	f.BoolVar(&external, "external", false, "use the brokers in KAFKA_BROKERS instead of an embedded broker")
	f.IntVar(&meters, "meters", 10000, "simulated meters (overrides SIM_METERS)")
	f.Float64Var(&speed, "speed", 0, fmt.Sprintf("grid seconds per wall second (0: SIM_SPEED, else %g: 10,000 meters then offer about 6,700 readings/s)", defaultDevSpeed))
	f.IntVar(&httpPort, "http-port", 8100, "HTTP port of the first service (/healthz, /readyz, /metrics); the others follow; 0 picks free ports")
	f.BoolVar(&mqtt, "mqtt", false, "also run the mqtt-gateway (needs an MQTT broker at MQTT_URL)")
	f.BoolVar(&verbose, "verbose", false, "print every service's log lines, not only warnings")
	return cmd
}

// printMap prints where everything is, and commands to paste that name
// broker's and the services' addresses, so they work whatever --addr,
// --http-port and --data-dir were, from any directory.
func printMap(w io.Writer, broker, brokerDesc, redis, dataDir string, st []ecosystem.Status) {
	fmt.Fprintf(w, "watershed dev: broker %s\n", brokerDesc)
	fmt.Fprintf(w, "hot pond: %s\n", redis)
	fmt.Fprintf(w, "history pond: %s (watershed ponds ls --pond %s)\n", filepath.Join(dataDir, "pond"), filepath.Join(dataDir, "pond"))
	fmt.Fprintf(w, "service logs: %s\n\n", filepath.Join(dataDir, "services.log"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tVERSION\tHEALTH\tMETRICS")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%s\thttp://%s/readyz\thttp://%s/metrics\n", s.Name, orDash(s.Version), s.HTTPAddr, s.HTTPAddr)
	}
	tw.Flush()
	fmt.Fprintln(w)
	printConsole(w, dataDir, st)
	for i, h := range devHints(broker, dataDir, st) {
		lead := "watch it:  "
		if i > 0 {
			lead = "           "
		}
		fmt.Fprintf(w, "%sgo run ./cmd/watershed %s\n", lead, h)
	}
	fmt.Fprintf(w, "           (ALERT_WEBHOOK_URL=<url> sends every alert to a webhook)\n")
	fmt.Fprintf(w, "Ctrl-C stops everything (started %s)\n", time.Now().Format(time.TimeOnly))
}

// devHints are the CLI commands printMap suggests, with dev's addresses
// spelled out.
func devHints(broker, dataDir string, st []ecosystem.Status) []string {
	addr := func(name string) string {
		for _, s := range st {
			if s.Name == name {
				return "http://" + s.HTTPAddr
			}
		}
		return ""
	}
	pond, err := filepath.Abs(filepath.Join(dataDir, "pond"))
	if err != nil {
		pond = filepath.Join(dataDir, "pond")
	}
	hints := []string{"tap rivers --brokers " + broker}
	if r := addr("registry"); r != "" {
		hints = append(hints, "services --registry "+r)
	}
	hints = append(hints, "dlq ls --brokers "+broker)
	if a := addr("alert-router"); a != "" {
		hints = append(hints, "alerts ls --url "+a)
	}
	if strings.ContainsAny(pond, " \t'\"$\\") {
		pond = "'" + strings.ReplaceAll(pond, "'", `'\''`) + "'"
	}
	return append(hints, "ponds ls --pond "+pond)
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

// startRedisServer starts redis-server from PATH on a free loopback port,
// without persistence, in dir, and returns its URL once it answers; stop
// ends it (it also dies with this process).
func startRedisServer(ctx context.Context, dir string) (url string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("no redis-server on PATH (Debian: apt-get install redis-server)")
	}
	// Absolute: redis-server changes into --dir before it opens --logfile.
	if dir, err = filepath.Abs(dir); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return "redis://" + addr + "/0", stop, nil
		}
		select {
		case err := <-exited:
			return "", nil, fmt.Errorf("redis-server exited at start (%v): see %s", err, filepath.Join(dir, "redis.log"))
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s did not answer within 10s: see %s", addr, filepath.Join(dir, "redis.log"))
		}
	}
}

// defaultDevSpeed is dev's grid clock without --speed or SIM_SPEED. At the
// simulator's 900× (10,000 readings/s from 10,000 meters) the 17 services
// of one dev process and the hot pond's redis-server need more than this
// 2-core reference machine has: on 2026-12-06 everything kept up except
// hot-pond, which sustained about 8,500 readings/s and fell behind by
// minutes. 600× offers 6,700/s and leaves it room.
const defaultDevSpeed = 600.0

func devSpeed(flag float64) float64 {
	if flag > 0 {
		return flag
	}
	if v, ok := os.LookupEnv("SIM_SPEED"); ok && v != "" {
		return 0 // the simulator reads it
	}
	return defaultDevSpeed
}
