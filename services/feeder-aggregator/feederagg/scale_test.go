package feederagg

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// scaleFleet is the readings of two feeders of three transformers of two
// meters, slot by slot (15 minutes), in read order; TX-2 is silent for an
// hour and m1 of TX-4 misses a read.
func scaleFleet(slots int) [][]events.MeterReading {
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	out := make([][]events.MeterReading, slots)
	for s := range slots {
		for tx := range 6 {
			for m := range 2 {
				if (tx == 2 && s >= 8 && s < 12) || (tx == 4 && m == 1 && s == 5) {
					continue
				}
				out[s] = append(out[s], events.MeterReading{
					MeterID: fmt.Sprintf("TX-%d-m%d", tx, m), TransformerID: fmt.Sprintf("TX-%d", tx), FeederID: fmt.Sprintf("FD-%d", tx/3),
					ReadAt: base.Add(time.Duration(s) * 15 * time.Minute), IntervalSeconds: 900,
					EnergyKWhTotal: 100 + float64(s*(tx+m+1))*0.25, DemandKW: float64(tx+m+1) / 2, VoltageVolts: 228 + float64(tx+m)})
			}
		}
	}
	return out
}

// scaleBroker returns an embedded broker's config with fresh topics of
// three partitions each.
func scaleBroker(t *testing.T) rapids.Config {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := embedded.Start(context.Background(), embedded.Options{Addr: "127.0.0.1:0", Partitions: 3, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	cfg := rapids.DefaultConfig()
	cfg.Brokers = []string{b.Addr()}
	cfg.Topics = rapids.Topics{Rapids: "rapids-scale", Rivers: "rivers-scale"}
	cfg.Partitions, cfg.RiversPartitions, cfg.Logger = 3, 3, quiet
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rapids.EnsureTopics(ctx, cfg, rapids.DefaultTopicSpecs(cfg)...); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// windowsOn collects the feeder.load.v1 published on kc's rivers, by
// window, checking that a window published twice is the same event.
type windowsOn struct {
	mu  sync.Mutex
	got map[string]events.FeederLoad
	ids map[string]string
	err error
}

func collect(t *testing.T, kc rapids.Config) *windowsOn {
	t.Helper()
	c, err := rapids.NewConsumer(kc, "test-collect", []string{kc.Topics.Rivers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &windowsOn{got: map[string]events.FeederLoad{}, ids: map[string]string{}}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	go func() {
		defer close(done)
		for {
			rec, err := c.Fetch(ctx)
			if err != nil {
				return
			}
			ev, err := contracts.DecodeBinary(rec.Message())
			if err != nil || ev.Type != events.TypeFeederLoad {
				continue
			}
			var l events.FeederLoad
			if err := json.Unmarshal(ev.Data, &l); err != nil {
				continue
			}
			k := fmt.Sprintf("%s %s %s", l.Level, l.ID, l.Start.UTC().Format("15:04"))
			w.mu.Lock()
			if prev, ok := w.got[k]; ok && (w.ids[k] != ev.ID || figures(prev) != figures(l)) {
				w.err = fmt.Errorf("%s published twice, differently: %+v (%s) and %+v (%s)", k, prev, w.ids[k], l, ev.ID)
			}
			w.got[k], w.ids[k] = l, ev.ID
			w.mu.Unlock()
		}
	}()
	return w
}

// figures prints a window's figures, voltages dereferenced.
func figures(l events.FeederLoad) string {
	v := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%s %s %s %v..%v load %v energy %v reporting %d/%d voltage %s %s %s", l.Level, l.ID, l.FeederID,
		l.Start, l.End, l.LoadKW, l.EnergyKWh, l.MetersReporting, l.MetersExpected, v(l.VoltageMinVolts), v(l.VoltageMaxVolts), v(l.VoltageAvgVolts))
}

func (w *windowsOn) snapshot() (map[string]events.FeederLoad, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]events.FeederLoad, len(w.got))
	for k, v := range w.got {
		out[k] = v
	}
	return out, w.err
}

// until waits until there are want windows (0: until no new one came for
// two seconds) or 60 s passed.
func (w *windowsOn) until(want int) map[string]events.FeederLoad {
	deadline, last, lastN := time.Now().Add(30*time.Second), time.Now(), -1
	for {
		got, _ := w.snapshot()
		if len(got) != lastN {
			last, lastN = time.Now(), len(got)
		}
		if (want > 0 && len(got) >= want) || (want == 0 && lastN > 0 && time.Since(last) > 2*time.Second) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue #12 item 3: three instances in one group, one stopped mid-stream,
// publish the transformer and feeder windows one instance does.
func TestScaleOutEqualsOneInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts an embedded broker with several group members")
	}
	fleet := scaleFleet(24)
	cfg := DefaultConfig()
	cfg.Tick = 50 * time.Millisecond
	cfg.IdleAfter = time.Hour // the record times of a fast test say nothing of silence
	cfg.FeederSettle = time.Second
	run := func(instances int, stopOne bool) map[string]events.FeederLoad {
		kc := scaleBroker(t)
		var running []*riverstest.Running
		for i := range instances {
			svc, err := rivers.NewService(rivers.Config{Name: Name, Instance: fmt.Sprintf("i%d", i), Version: "v0.0.0-test",
				Kafka: kc, HTTPAddr: "off", Group: Name + "-scale", HeartbeatInterval: time.Second, LogLevel: "error"})
			if err != nil {
				t.Fatal(err)
			}
			if err := Register(svc, cfg); err != nil {
				t.Fatal(err)
			}
			running = append(running, riverstest.ServeKafka(t, svc, kc))
		}
		w := collect(t, kc)
		publish := func(slots [][]events.MeterReading) {
			for _, s := range slots {
				publishReadings(t, kc, s...)
			}
		}
		publish(fleet[:12])
		if stopOne {
			w.until(12) // every instance has published windows
			if err := running[1].Stop(); err != nil {
				t.Fatal(err)
			}
		}
		publish(fleet[12:])
		got := w.until(0)
		if _, err := w.snapshot(); err != nil {
			t.Error(err)
		}
		return got
	}
	want := run(1, false)
	got := run(3, true)
	levels := map[string]int{}
	for k, wl := range want {
		levels[wl.Level]++
		gl, ok := got[k]
		if !ok {
			t.Errorf("%s: missing from the scaled run", k)
			continue
		}
		if figures(gl) != figures(wl) {
			t.Errorf("%s: scaled %s, one instance %s", k, figures(gl), figures(wl))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: only in the scaled run", k)
		}
	}
	if levels[Transformer] < 6*18 || levels[Feeder] < 2*18 {
		t.Errorf("one instance published %v windows, want at least 18 per transformer and feeder", levels)
	}
	if w := want["feeder FD-0 02:00"]; w.MetersReporting != 4 || w.MetersExpected != 6 {
		t.Errorf("feeder window with TX-2 silent: %+v, want 4 of 6 reporting", w)
	}
}
