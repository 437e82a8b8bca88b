package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/heartbeat-monitor/heartbeatmonitor"
)

// riversHelper is the supervised program of TestKilledServiceIsDownThenRestarted:
// a rivers service configured from the environment (KAFKA_*, HEARTBEAT_INTERVAL,
// SERVICE_INSTANCE from the supervisor), in its own consumer group per run.
func riversHelper() int {
	rc, err := rivers.ConfigFromEnv("pulse", "1.0.0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rc.Group = "pulse-" + rc.Instance
	svc, err := rivers.NewService(rc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := svc.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// lifecycle collects the system.service.* events, passively.
type lifecycle struct {
	mu  sync.Mutex
	got []string // "down <instance>", "up <instance> <previous>", "restarted <instance> <previous>"
	ups []events.ServiceUp
}

func (l *lifecycle) add(s string) {
	l.mu.Lock()
	l.got = append(l.got, s)
	l.mu.Unlock()
}

func (l *lifecycle) index(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.IndexFunc(l.got, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func (l *lifecycle) wait(t *testing.T, prefix string, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if i := l.index(prefix); i >= 0 {
			return i
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no %q within %s; got %q", prefix, d, l.got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKilledServiceIsDownThenRestarted: a supervised service process is
// killed; the heartbeat monitor publishes system.service.down.v1 within
// its window, the supervisor restarts the process after its backoff and
// publishes system.service.restarted.v1, and the monitor publishes
// system.service.up.v1 for the new instance as a restart of the old one.
func TestKilledServiceIsDownThenRestarted(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			base := rivers.Config{Version: "1.0.0", Kafka: k.Kafka, HTTPAddr: "off", LogLevel: "error", HeartbeatInterval: 300 * time.Millisecond}

			mc := base
			mc.Name, mc.Instance = heartbeatmonitor.Name, "hm-1"
			monitor, err := rivers.NewService(mc)
			if err != nil {
				t.Fatal(err)
			}
			hcfg := heartbeatmonitor.DefaultConfig()
			hcfg.Misses, hcfg.CheckInterval = 3, 50*time.Millisecond
			if err := heartbeatmonitor.Register(monitor, hcfg); err != nil {
				t.Fatal(err)
			}

			tc := base
			tc.Name, tc.Instance = "lifecycle-tap", "tap-1"
			tap, err := rivers.NewService(tc)
			if err != nil {
				t.Fatal(err)
			}
			var l lifecycle
			tap.Handle(rivers.NewRiver(events.TypeServiceDown, events.TypeServiceUp, events.TypeServiceRestarted).Named("lifecycle").
				Passive().RequireValue("service", "pulse").Interested("instance", "previous_instance", "new_service", "down_since"),
				func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
					instance, _ := ev.String("instance")
					switch ev.Type() {
					case events.TypeServiceDown:
						l.add("down " + instance)
					case events.TypeServiceUp:
						var up events.ServiceUp
						raw, _ := ev.Raw("down_since")
						if len(raw) > 0 {
							_ = json.Unmarshal(raw, &up.DownSince)
						}
						up.NewService, _ = ev.Bool("new_service")
						up.Instance = instance
						l.mu.Lock()
						l.ups = append(l.ups, up)
						l.mu.Unlock()
						l.add("up " + instance)
					case events.TypeServiceRestarted:
						prev, _ := ev.String("previous_instance")
						l.add("restarted " + instance + " " + prev)
					}
					return nil
				})

			sc := base
			sc.Name, sc.Instance = Name, "sup-1"
			voice, err := rivers.NewService(sc)
			if err != nil {
				t.Fatal(err)
			}
			m := Manifest{Programs: []Program{{
				Name: "pulse", Command: os.Args[0], Restart: Always,
				Env: map[string]string{
					"SUPERVISOR_TEST_HELPER": "rivers",
					"KAFKA_BROKERS":          strings.Join(k.Kafka.Brokers, ","),
					"KAFKA_TOPIC_RIVERS":     k.Kafka.Topics.Rivers,
					"KAFKA_TOPIC_RAPIDS":     k.Kafka.Topics.Rapids,
					"ENSURE_TOPICS":          "false",
					"HTTP_ADDR":              "off",
					"LOG_LEVEL":              "error",
					"HEARTBEAT_INTERVAL":     "300ms",
					"SHUTDOWN_TIMEOUT":       "2s",
				},
				// longer than the monitor's window (3 × 300ms + 50ms), so down comes first;
				// the window is wide enough that a loaded machine's late heartbeat is no "down"
				Backoff:     Backoff{Initial: 3 * time.Second, Max: 4 * time.Second, Factor: 2},
				StopTimeout: 5 * time.Second,
			}}}
			sup, err := NewPublishing(voice, m, Options{Stdout: os.Stderr, Stderr: os.Stderr})
			if err != nil {
				t.Fatal(err)
			}

			riverstest.ServeKafka(t, monitor, k.Kafka)
			riverstest.ServeKafka(t, tap, k.Kafka)
			riverstest.ServeKafka(t, voice, k.Kafka)
			ctx, cancel := context.WithCancel(context.Background())
			supDone := make(chan error, 1)
			go func() { supDone <- sup.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-supDone; err != nil {
					t.Errorf("supervisor: %v", err)
				}
			})

			firstUp := l.wait(t, "up ", 60*time.Second)
			st := sup.Status()[0]
			if !st.Running || st.PID == 0 {
				t.Fatalf("pulse not running: %+v", st)
			}
			l.mu.Lock()
			first := strings.TrimPrefix(l.got[firstUp], "up ")
			l.mu.Unlock()
			killedAt := time.Now()
			if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}

			down := l.wait(t, "down "+first, 10*time.Second)
			if d := time.Since(killedAt); d > 5*time.Second {
				t.Errorf("down reported %s after the kill", d)
			}
			restarted := l.wait(t, "restarted ", 30*time.Second)
			l.mu.Lock()
			r := strings.Fields(l.got[restarted])
			l.mu.Unlock()
			if len(r) != 3 || r[2] != first || r[1] == first {
				t.Fatalf("restart event %q: want a new instance replacing %s", r, first)
			}
			second := r[1]
			up := l.wait(t, "up "+second, 60*time.Second)
			if !(down < restarted && down < up) {
				t.Fatalf("order of events: %q", l.got)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			i := slices.IndexFunc(l.ups, func(u events.ServiceUp) bool { return u.Instance == second })
			if u := l.ups[i]; u.NewService || u.DownSince.IsZero() {
				t.Fatalf("up of the new instance should be a restart after a down: %+v", u)
			}
		})
	}
}
