package ecosystem

import (
	"context"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
)

// testKafka returns the broker of an end-to-end test or benchmark: the real
// Kafka of WATERSHED_TEST_KAFKA when set, else an embedded broker on
// 127.0.0.1:0 keeping its data in tb.TempDir(). Topic names are unique to
// the run and the topics exist when it returns.
func testKafka(tb testing.TB, log *slog.Logger) rapids.Config {
	tb.Helper()
	cfg := rapids.DefaultConfig()
	cfg.Logger = log
	suffix := fmt.Sprintf("-e2e-%d", time.Now().UnixNano())
	cfg.Topics = rapids.Topics{Rapids: "rapids" + suffix, Rivers: "rivers" + suffix}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if addr := os.Getenv("WATERSHED_TEST_KAFKA"); addr != "" {
		cfg.Brokers = []string{addr}
		if err := rapids.EnsureTopics(ctx, cfg); err != nil {
			tb.Fatalf("topics on WATERSHED_TEST_KAFKA=%s: %v", addr, err)
		}
		return cfg
	}
	b, err := embedded.Start(ctx, embedded.Options{
		Addr:    "127.0.0.1:0",
		DataDir: tb.TempDir(),
		Topics:  rapids.DefaultTopicSpecs(cfg),
		Logger:  log,
	})
	if err != nil {
		tb.Fatalf("embedded broker: %v", err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	cfg.Brokers = []string{b.Addr()}
	return cfg
}

// testLogger returns a logger of warnings and errors kept in memory and
// printed when the test fails: the services' own account of what went wrong.
func testLogger(tb testing.TB) *slog.Logger {
	buf := &riverstest.Buffer{}
	tb.Cleanup(func() {
		if tb.Failed() {
			out := buf.String()
			if len(out) > 16<<10 {
				out = "...\n" + out[len(out)-16<<10:]
			}
			tb.Logf("service warnings and errors:\n%s", out)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// only returns the members named, failing when one is missing.
func only(tb testing.TB, members []Member, names ...string) []Member {
	tb.Helper()
	var out []Member
	for _, n := range names {
		i := slices.IndexFunc(members, func(m Member) bool { return m.Name == n })
		if i < 0 {
			tb.Fatalf("no member %q in the ecosystem", n)
		}
		out = append(out, members[i])
	}
	return out
}

// runningEcosystem is an ecosystem started by a test, with the services of
// its members' current runs.
type runningEcosystem struct {
	eco      *Ecosystem
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once

	mu       sync.Mutex
	services map[string]*rivers.Service
}

// startEcosystem runs members until the test ends. Each member's service
// gets mws (built per member name) before its own Setup runs.
func startEcosystem(tb testing.TB, kcfg rapids.Config, log *slog.Logger, members []Member, mws ...func(name string) rivers.Middleware) *runningEcosystem {
	tb.Helper()
	r := &runningEcosystem{done: make(chan error, 1), services: map[string]*rivers.Service{}}
	for i := range members {
		name, setup, configure := members[i].Name, members[i].Setup, members[i].Configure
		// Consumer groups as unique as the topics, for a shared real Kafka.
		members[i].Configure = func(c *rivers.Config) {
			if configure != nil {
				configure(c)
			}
			c.Group = c.Name + "-" + kcfg.Topics.Rivers
		}
		members[i].Setup = func(svc *rivers.Service) error {
			for _, mw := range mws {
				svc.Use(mw(name))
			}
			r.mu.Lock()
			r.services[name] = svc
			r.mu.Unlock()
			return setup(svc)
		}
	}
	eco, err := New(Options{Kafka: kcfg, Logger: log}, members...)
	if err != nil {
		tb.Fatal(err)
	}
	r.eco = eco
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- eco.Run(ctx) }()
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

// stop stops every member gracefully (as a SIGTERM would) and waits for
// them; the test's cleanup does it when the test did not.
func (r *runningEcosystem) stop(tb testing.TB) {
	tb.Helper()
	r.stopOnce.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				tb.Errorf("ecosystem stopped with %v", err)
			}
		case <-time.After(90 * time.Second):
			tb.Errorf("ecosystem did not stop within 90s of its context ending")
		}
	})
}

// waitReady waits until every member's service is serving: its consumer
// group joined and partitions assigned (rivers' /readyz).
func (r *runningEcosystem) waitReady(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var notReady []string
		for _, st := range r.eco.Statuses() {
			r.mu.Lock()
			svc := r.services[st.Name]
			r.mu.Unlock()
			if svc == nil {
				notReady = append(notReady, st.Name+" (not started; last error: "+st.LastErr+")")
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := svc.Ready(ctx)
			cancel()
			if err != nil {
				notReady = append(notReady, fmt.Sprintf("%s (%v)", st.Name, err))
			}
		}
		if len(notReady) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("services not ready after %s: %v", timeout, notReady)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// riverTap reads a topic as its own consumer group and hands every record,
// with the wall time it arrived, to a callback; waiters are woken on each.
type riverTap struct {
	notify chan struct{}
	errMu  sync.Mutex
	err    error
}

// startTap consumes topic from its start until the test ends; keep is
// called for every record, in partition order, from one goroutine.
func startTap(tb testing.TB, kcfg rapids.Config, topic string, keep func(rec rapids.Record, at time.Time)) *riverTap {
	tb.Helper()
	group := fmt.Sprintf("e2e-tap-%d", time.Now().UnixNano())
	cons, err := rapids.NewConsumer(kcfg, group, []string{topic}, rapids.WithFetchMaxWait(100*time.Millisecond))
	if err != nil {
		tb.Fatalf("tap on %s: %v", topic, err)
	}
	tp := &riverTap{notify: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait := 100 * time.Millisecond
		for {
			rec, err := cons.Fetch(ctx)
			if err != nil && ctx.Err() == nil && rapids.IsRetryable(err) {
				// A broker slow to answer (i/o timeout on a loaded
				// machine) is waited out, as the services' fetch loop
				// does; only a permanent error stops the tap.
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				wait = min(2*wait, 2*time.Second)
				continue
			}
			if err != nil {
				if ctx.Err() == nil {
					tp.errMu.Lock()
					tp.err = err
					tp.errMu.Unlock()
				}
				return
			}
			wait = 100 * time.Millisecond
			keep(rec, time.Now())
			select {
			case tp.notify <- struct{}{}:
			default:
			}
		}
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
		_ = cons.Close()
	})
	return tp
}

// waitFor re-evaluates check on every record the tap receives (and at
// least every 250ms) until it reports done or timeout passes; then it fails
// the test with what check last said was missing.
func (tp *riverTap) waitFor(tb testing.TB, timeout time.Duration, what string, check func() (done bool, missing string)) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		done, missing := check()
		if done {
			return
		}
		tp.errMu.Lock()
		err := tp.err
		tp.errMu.Unlock()
		if err != nil {
			tb.Fatalf("%s: the tap stopped reading: %v (still missing: %s)", what, err, missing)
		}
		select {
		case <-deadline.C:
			tb.Fatalf("%s: not within %s: %s", what, timeout, missing)
		case <-tp.notify:
		case <-tick.C:
		}
	}
}

// decode returns the CloudEvent of a record, or nil when it is not one.
func decode(rec rapids.Record) *contracts.Event {
	ev, err := contracts.DecodeBinary(rec.Message())
	if err != nil {
		return nil
	}
	return &ev
}

// header returns a record header as a string.
func header(rec rapids.Record, key string) string {
	v, _ := contracts.HeaderValue(rec.Headers, key)
	return string(v)
}

// service returns the running instance of the member called name; nil
// before it started.
func (r *runningEcosystem) service(name string) *rivers.Service {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.services[name]
}
