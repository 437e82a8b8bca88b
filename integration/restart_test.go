package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestIntegrationBrokerRestart stops Kafka and starts it again (same data)
// while a producer publishes and a service consumes. Neither is
// restarted: the producer gets acknowledgements again after the broker is
// back, and every event the broker acknowledged — before, during and after
// the outage — is booked by the service.
func TestIntegrationBrokerRestart(t *testing.T) {
	k := realKafka(t)
	if k.Stop == nil {
		t.Skipf("cannot restart this broker: %s", k.RestartWhy)
	}
	cfg := freshTopics(t, k.config(), 3)
	l := newLedger()
	svc := riverstest.ServeKafka(t, newLedgerService(t, cfg, unique("ledger"), "ledger-1", l, 0), cfg)

	var p producer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pctx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	var wg sync.WaitGroup
	wg.Go(func() { p.run(pctx, t, cfg, 10, 50*time.Millisecond, 0) })

	p.waitAcked(t, 200, 60*time.Second)
	if err := k.Stop(ctx); err != nil {
		t.Fatalf("stopping Kafka: %v", err)
	}
	_, ackedBefore, _ := p.counts()
	t.Logf("Kafka stopped after %d acknowledged events", ackedBefore)
	time.Sleep(2 * time.Second) // producer and consumer meet a dead broker
	started := time.Now()
	if err := k.Start(ctx); err != nil {
		t.Fatalf("starting Kafka: %v", err)
	}
	t.Logf("Kafka answering again after %s", time.Since(started).Round(time.Millisecond))
	_, ackedAtRestart, failedDuring := p.counts()
	p.waitAcked(t, ackedAtRestart+200, 90*time.Second)
	stopProducing()
	wg.Wait()

	acked := p.ackedIDs()
	missing := l.waitFor(acked, 90*time.Second)
	produced, nacked, failures := p.counts()
	c := l.counts()
	report(t, "broker restart", "produced", produced, "acknowledged", nacked,
		"acknowledged_before_stop", ackedBefore, "acknowledged_after_start", nacked-ackedAtRestart,
		"failed_batches", failures, "failed_while_down", failedDuring,
		"consumed", c.deliveries, "effects", c.effects, "deduplicated", c.duplicates, "lost", len(missing))
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged events never consumed after the restart, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	if c.effects < nacked || c.effects > produced {
		t.Errorf("%d effects, want between %d acknowledged and %d produced", c.effects, nacked, produced)
	}
	if err := svc.Stop(); err != nil {
		t.Errorf("the service did not survive the restart: %v", err)
	}
}
