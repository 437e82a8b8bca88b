package integration

import (
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestIntegrationRiversBadInput runs a rivers service on real Kafka topics
// and feeds it good events between a malformed record, a schema-invalid
// event, a loop (hop count past the cut-off), an expired event and a
// duplicate: the three bad ones are dead-lettered on rapids.dlq with their
// origin, the expired one and the duplicate never reach the handler, and
// every good event is booked exactly once.
func TestIntegrationRiversBadInput(t *testing.T) {
	k := realKafka(t)
	cfg := freshTopics(t, k.config(), 3)
	group := unique("ledger")
	l := newLedger()
	riverstest.ServeKafka(t, newLedgerService(t, cfg, group, "ledger-1", l, 0), cfg)
	topic := cfg.Topics.Rapids

	var recs []rivers.Record
	var good []string
	add := func(r rapids.Record) { recs = append(recs, rivers.Record(r)) }
	addGood := func(i int) {
		e := reading(t, meter(i), i)
		good = append(good, e.ID)
		add(mustRecord(t, topic, e))
	}
	addGood(1)
	malformed := mustRecord(t, topic, reading(t, meter(2), 2))
	malformed.Value = []byte("{not json")
	add(malformed)
	addGood(3)
	schema := reading(t, meter(4), 4)
	schema.Data = []byte(`{"meter_id":"MTR-00004","read_at":"yesterday","energy_kwh_total":"a lot"}`)
	add(mustRecord(t, topic, schema))
	addGood(5)
	loop := reading(t, meter(6), 6)
	loop.Hops = 50
	add(mustRecord(t, topic, loop))
	addGood(7)
	expired := reading(t, meter(8), 8)
	expired.ExpiryTime = time.Now().Add(-time.Minute)
	add(mustRecord(t, topic, expired))
	addGood(9)
	dup := reading(t, meter(10), 10)
	add(mustRecord(t, topic, dup))
	add(mustRecord(t, topic, dup))
	good = append(good, dup.ID)
	addGood(11)
	riverstest.Produce(t, cfg, recs...)

	if missing := l.waitFor(good, 60*time.Second); len(missing) > 0 {
		t.Fatalf("good events never booked: %v", missing)
	}
	dlq := riverstest.Consume(t, cfg, rapids.DLQ(topic), riverstest.Count("", 3), 60*time.Second)
	var classes []string
	for _, r := range dlq {
		d, err := rivers.ParseDeadLetter(r)
		if err != nil {
			t.Fatalf("dead letter %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		if d.OriginTopic != topic || d.ConsumerGroup != group || d.Service != ledgerService || d.Error == "" {
			t.Errorf("dead letter without its origin: %+v", d)
		}
		classes = append(classes, d.Class)
	}
	slices.Sort(classes)
	if want := []string{rivers.ClassLoop, rivers.ClassMalformed, rivers.ClassSchema}; !slices.Equal(classes, want) {
		t.Errorf("dead-letter classes %v, want %v", classes, want)
	}
	c := l.counts()
	if c.effects != len(good) || c.deliveries != len(good) {
		t.Errorf("booked %d effects in %d handler calls, want %d and %d: the expired event or the duplicate reached the handler",
			c.effects, c.deliveries, len(good), len(good))
	}
	if !slices.Contains(l.missing([]string{expired.ID}), expired.ID) {
		t.Errorf("the expired event %s was booked", expired.ID)
	}
	report(t, "rivers bad input", "produced", len(recs), "good", len(good), "booked", c.effects,
		"handler_calls", c.deliveries, "dead_lettered", len(dlq), "dropped", len(recs)-len(good)-len(dlq))
}
