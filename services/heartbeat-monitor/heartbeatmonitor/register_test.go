package heartbeatmonitor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/heartbeat-monitor/heartbeatmonitor"
)

func newService(t *testing.T, name, instance string, k rapids.Config) *rivers.Service {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: name, Version: "1.0.0", Instance: instance, Kafka: k, HTTPAddr: "off",
		LogLevel: "error", HeartbeatInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

type seen struct {
	mu    sync.Mutex
	up    []events.ServiceUp
	downs int
}

// TestOrderlyStopIsNotDownAndSuccessorIsRestart: an instance that stops
// in order is not reported down; its successor is up as a restart, not as
// a new service.
func TestOrderlyStopIsNotDownAndSuccessorIsRestart(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			monitor := newService(t, heartbeatmonitor.Name, "hm-1", k.Kafka)
			cfg := heartbeatmonitor.DefaultConfig()
			cfg.Misses, cfg.CheckInterval = 10, 50*time.Millisecond // a 1s window: generous on a loaded machine
			if err := heartbeatmonitor.Register(monitor, cfg); err != nil {
				t.Fatal(err)
			}
			var s seen
			tap := newService(t, "tap", "tap-1", k.Kafka)
			tap.Handle(rivers.NewRiver(events.TypeServiceUp, events.TypeServiceDown).Passive().RequireValue("service", "pulse").
				Interested("instance", "new_service", "down_since"),
				func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
					s.mu.Lock()
					defer s.mu.Unlock()
					if ev.Type() == events.TypeServiceDown {
						s.downs++
						return nil
					}
					var up events.ServiceUp
					up.Instance, _ = ev.String("instance")
					up.NewService, _ = ev.Bool("new_service")
					if _, err := ev.Raw("down_since"); err == nil {
						up.DownSince = time.Unix(1, 0)
					}
					s.up = append(s.up, up)
					return nil
				})
			riverstest.ServeKafka(t, monitor, k.Kafka)
			riverstest.ServeKafka(t, tap, k.Kafka)

			waitUps := func(n int) []events.ServiceUp {
				deadline := time.Now().Add(30 * time.Second)
				for {
					s.mu.Lock()
					got := append([]events.ServiceUp(nil), s.up...)
					s.mu.Unlock()
					if len(got) >= n {
						return got
					}
					if time.Now().After(deadline) {
						t.Fatalf("%d up events, want %d: %+v", len(got), n, got)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			first := riverstest.ServeKafka(t, newService(t, "pulse", "pulse-a", k.Kafka), k.Kafka)
			if ups := waitUps(1); ups[0].Instance != "pulse-a" || !ups[0].NewService {
				t.Fatalf("first up: %+v", ups[0])
			}
			if err := first.Stop(); err != nil {
				t.Fatal(err)
			}
			// well past the down window: an orderly stop is not a down
			time.Sleep(1500 * time.Millisecond)
			riverstest.ServeKafka(t, newService(t, "pulse", "pulse-b", k.Kafka), k.Kafka)
			ups := waitUps(2)
			if last := ups[len(ups)-1]; last.Instance != "pulse-b" || last.NewService || !last.DownSince.IsZero() {
				t.Fatalf("successor up: %+v (all: %+v)", last, ups)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.downs != 0 {
				t.Fatalf("%d down events after an orderly stop", s.downs)
			}
		})
	}
}
