package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// producer publishes meter readings in batches until stopped, remembering
// which events the broker acknowledged (Publish returned nil for their
// batch). A failed batch is not retried: its events count as produced but
// not acknowledged, and may or may not have been stored.
type producer struct {
	mu       sync.Mutex
	produced int
	acked    []string
	failures int
	lastErr  error
}

func (p *producer) ackedIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.acked...)
}

func (p *producer) counts() (produced, acked, failures int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.produced, len(p.acked), p.failures
}

// run publishes batches of batch readings every pause until ctx is done or
// limit events were produced (0: no limit).
func (p *producer) run(ctx context.Context, t testing.TB, cfg rapids.Config, batch int, pause time.Duration, limit int) {
	pub, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Errorf("NewProducer: %v", err)
		return
	}
	defer pub.Close()
	for seq := 0; ctx.Err() == nil && (limit == 0 || seq < limit); {
		recs := make([]rapids.Record, 0, batch)
		ids := make([]string, 0, batch)
		for range batch {
			e := reading(t, meter(seq%500), seq)
			recs = append(recs, mustRecord(t, cfg.Topics.Rapids, e))
			ids = append(ids, e.ID)
			seq++
		}
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := pub.Publish(pctx, recs...)
		cancel()
		p.mu.Lock()
		p.produced += len(recs)
		if err == nil {
			p.acked = append(p.acked, ids...)
		} else {
			p.failures++
			p.lastErr = err
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// waitAcked waits until at least n events were acknowledged, or timeout.
func (p *producer) waitAcked(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, acked, _ := p.counts(); acked >= n {
			return
		}
		if time.Now().After(deadline) {
			_, acked, failures := p.counts()
			t.Fatalf("only %d of %d events acknowledged after %s (%d failed batches, last error %v)", acked, n, timeout, failures, p.lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntegrationConsumerGroupRebalance runs one service as a consumer
// group on a 6-partition topic while a producer publishes: two instances
// share the partitions, a third joins, and the first leaves, all
// mid-stream. Every acknowledged event is booked (nothing is lost), and
// each booking happens once: redeliveries after the rebalances are
// suppressed by the effect store's de-duplication by ce_id.
func TestIntegrationConsumerGroupRebalance(t *testing.T) {
	k := realKafka(t)
	cfg := freshTopics(t, k.config(), 6)
	group := unique("ledger")
	l := newLedger()
	const total, batch = 3000, 25
	delay := 2 * time.Millisecond // per event, so the stream outlasts the rebalances

	a := riverstest.ServeKafka(t, newLedgerService(t, cfg, group, "a", l, delay), cfg)
	riverstest.ServeKafka(t, newLedgerService(t, cfg, group, "b", l, delay), cfg)

	var p producer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { p.run(ctx, t, cfg, batch, 20*time.Millisecond, total) })

	p.waitAcked(t, total/3, 90*time.Second)
	riverstest.ServeKafka(t, newLedgerService(t, cfg, group, "c", l, delay), cfg)
	t.Logf("instance c joined after %d acknowledged events", total/3)
	p.waitAcked(t, 2*total/3, 90*time.Second)
	if err := a.Stop(); err != nil {
		t.Errorf("instance a stopped with %v", err)
	}
	t.Logf("instance a left after %d acknowledged events", 2*total/3)
	wg.Wait()

	acked := p.ackedIDs()
	missing := l.waitFor(acked, 90*time.Second)
	produced, nacked, failures := p.counts()
	c := l.counts()
	report(t, "consumer group rebalance", "produced", produced, "acknowledged", nacked, "failed_batches", failures,
		"consumed", c.deliveries, "effects", c.effects, "deduplicated", c.duplicates,
		"per_instance", c.byInstance, "lost", len(missing))
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged events never consumed, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	if nacked != total {
		t.Errorf("%d of %d events acknowledged on a healthy broker (last error %v)", nacked, total, p.lastErr)
	}
	if c.effects != nacked {
		t.Errorf("%d effects for %d acknowledged events: an event was booked that was never produced", c.effects, nacked)
	}
	if c.deliveries != c.effects+c.duplicates {
		t.Errorf("%d deliveries != %d effects + %d duplicates", c.deliveries, c.effects, c.duplicates)
	}
	for _, inst := range []string{"a", "b", "c"} {
		if c.byInstance[inst] == 0 {
			t.Errorf("instance %s booked nothing: the group did not share the partitions with it (%v)", inst, c.byInstance)
		}
	}
}
