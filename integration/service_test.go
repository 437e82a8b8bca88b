package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// ledger is the effect store of the test service: the effect of an event
// (a meter reading booked) is applied once per ce_id, however often the
// event is delivered. It counts deliveries and the duplicates it
// suppressed.
type ledger struct {
	mu         sync.Mutex
	effects    map[string]string // ce_id → the instance that applied it
	deliveries int
	duplicates int
	byInstance map[string]int // effects applied per instance
	changed    chan struct{}
}

func newLedger() *ledger {
	return &ledger{effects: map[string]string{}, byInstance: map[string]int{}, changed: make(chan struct{}, 1)}
}

// apply books the event id for instance and reports whether it was new.
func (l *ledger) apply(id, instance string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliveries++
	if _, ok := l.effects[id]; ok {
		l.duplicates++
		return false
	}
	l.effects[id] = instance
	l.byInstance[instance]++
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return true
}

type ledgerCounts struct {
	effects, deliveries, duplicates int
	byInstance                      map[string]int
}

func (l *ledger) counts() ledgerCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	by := make(map[string]int, len(l.byInstance))
	for k, v := range l.byInstance {
		by[k] = v
	}
	return ledgerCounts{effects: len(l.effects), deliveries: l.deliveries, duplicates: l.duplicates, byInstance: by}
}

// missing returns the ids of want that have no effect.
func (l *ledger) missing(want []string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, id := range want {
		if _, ok := l.effects[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// waitFor waits until every id of want has its effect, or timeout; it
// returns the ids still missing.
func (l *ledger) waitFor(want []string, timeout time.Duration) []string {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		m := l.missing(want)
		if len(m) == 0 {
			return nil
		}
		select {
		case <-deadline.C:
			return m
		case <-l.changed:
		case <-tick.C:
		}
	}
}

const ledgerService = "meter-ledger"

// newLedgerService returns an instance of the meter-ledger service: one
// river of meter readings on the rapids, whose handler books each reading
// in l. Instances built with the same group share its partitions.
func newLedgerService(t testing.TB, kcfg rapids.Config, group, instance string, l *ledger, handlerDelay time.Duration) *rivers.Service {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{
		Name:              ledgerService,
		Version:           "1.0.0",
		Instance:          instance,
		Group:             group,
		Kafka:             kcfg,
		HTTPAddr:          "off",
		LogLevel:          "error",
		HeartbeatInterval: 2 * time.Second,
		Retry:             rivers.RetryPolicy{Attempts: 3, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
	}, rivers.WithLogger(quietLogger()))
	if err != nil {
		t.Fatalf("rivers.NewService: %v", err)
	}
	river := rivers.NewRiver(events.TypeMeterReading).Named("readings").OnTopic(rivers.Rapids).
		Require("meter_id", "read_at", "energy_kwh_total")
	svc.Handle(river, func(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
		if _, err := ev.String("meter_id"); err != nil {
			return rivers.Permanent(err)
		}
		if handlerDelay > 0 {
			select {
			case <-time.After(handlerDelay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		l.apply(ev.ID(), instance)
		return nil
	})
	return svc
}

// reading returns a valid meter.reading.v1 event of meter, with a use-by
// an hour ahead.
func reading(t testing.TB, meter string, seq int) contracts.Event {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	e, err := contracts.New("/services/integration", events.TypeMeterReading, events.MeterReading{
		MeterID: meter, TransformerID: "tx-0042", FeederID: "fd-7", ReadAt: now,
		IntervalSeconds: 900, EnergyKWhTotal: 1000 + float64(seq), DemandKW: 1.5, VoltageVolts: 231,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.PartitionKey = meter
	e.Subject = meter
	e.ExpiryTime = now.Add(time.Hour)
	return e
}

func mustRecord(t testing.TB, topic string, e contracts.Event) rapids.Record {
	t.Helper()
	r, err := rapids.NewRecord(topic, e)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func meter(i int) string { return fmt.Sprintf("MTR-%05d", i) }
