package rivers_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestBadInputNeverStopsTheStream sends one of each kind of bad input,
// each followed by a good event, and checks each is counted and routed
// while the good ones are processed.
func TestBadInputNeverStopsTheStream(t *testing.T) {
	svc, w := newVoltageWatch(t, testConfig("voltage-watch"))
	kit := riverstest.New(t, svc)
	now := kit.Now()
	good := func(meter string) contracts.Event {
		e := kit.Event(events.TypeMeterReading, reading(meter, 180, now))
		e.PartitionKey = meter
		return e
	}
	var goodIDs []string
	sendGood := func(meter string) {
		e := good(meter)
		goodIDs = append(goodIDs, e.ID)
		kit.Send(e, riverstest.OnTopic(rivers.Rapids))
	}

	// Malformed: valid headers, a value that is not JSON.
	m, _ := contracts.EncodeBinary(good("MTR-1"))
	malformed := kit.SendRecord(rivers.Record{Topic: "rapids", Key: m.Key, Value: []byte("{not json"), Headers: m.Headers})
	sendGood("MTR-2")

	// Schema-invalid: voltage_v is a string.
	bad := kit.Event(events.TypeMeterReading, map[string]any{
		"meter_id": "MTR-3", "transformer_id": "TX-1", "feeder_id": "FDR-1", "read_at": now.Format(time.RFC3339),
		"interval_s": 900, "energy_kwh_total": 1.0, "demand_kw": 1.0, "voltage_v": "230"})
	kit.Send(bad, riverstest.OnTopic(rivers.Rapids))
	sendGood("MTR-4")

	// Expired: use-by an hour ago.
	expired := good("MTR-5")
	expired.ExpiryTime = now.Add(-time.Hour)
	kit.Send(expired, riverstest.OnTopic(rivers.Rapids))
	sendGood("MTR-6")

	// Duplicate: the same event twice.
	dup := good("MTR-7")
	kit.Send(dup, riverstest.OnTopic(rivers.Rapids))
	kit.Send(dup, riverstest.OnTopic(rivers.Rapids))
	goodIDs = append(goodIDs, dup.ID)
	sendGood("MTR-8")

	// A handler panic.
	panicking := good("PANIC")
	kit.Send(panicking, riverstest.OnTopic(rivers.Rapids))
	sendGood("MTR-9")

	// A loop: 11 hops.
	loop := good("MTR-10")
	loop.Hops = 11
	kit.Send(loop, riverstest.OnTopic(rivers.Rapids))
	sendGood("MTR-11")

	// Every good event was handled once, in order (the duplicate once).
	if got := w.seen(); !sameSet(got, goodIDs) || len(got) != len(goodIDs) {
		t.Fatalf("handled %d events %v, want %d %v", len(got), got, len(goodIDs), goodIDs)
	}
	if n := len(kit.Published(events.TypeMeterReadingAnomalous)); n != len(goodIDs) {
		t.Errorf("published %d anomalies, want %d (one per good event)", n, len(goodIDs))
	}

	dls := kit.DeadLetters()
	classes := map[string]rivers.DeadLetter{}
	for _, d := range dls {
		classes[d.Class] = d
	}
	for _, c := range []string{rivers.ClassMalformed, rivers.ClassSchema, rivers.ClassPanic, rivers.ClassLoop} {
		if _, ok := classes[c]; !ok {
			t.Errorf("no dead letter of class %s; got %+v", c, dls)
		}
	}
	if len(dls) != 4 {
		t.Errorf("%d dead letters, want 4 (malformed, schema, panic, loop): %+v", len(dls), dls)
	}
	mal := classes[rivers.ClassMalformed]
	if mal.OriginTopic != "rapids" || mal.OriginOffset != malformed.Offset || mal.ConsumerGroup != "voltage-watch" ||
		mal.Service != "voltage-watch" || string(mal.Message.Value) != "{not json" || mal.Error == "" {
		t.Errorf("malformed dead letter = %+v", mal)
	}
	if p := classes[rivers.ClassPanic]; p.River != "readings" || p.Attempts != 1 {
		t.Errorf("panic dead letter: river %q attempts %d, want readings and 1 (panics are not retried)", p.River, p.Attempts)
	}
	if v, _ := contracts.HeaderValue(classes[rivers.ClassPanic].Message.Headers, contracts.HeaderID); string(v) != panicking.ID {
		t.Errorf("panic dead letter keeps ce_id %q, want %q", v, panicking.ID)
	}

	typ, river := "type", events.TypeMeterReading
	for _, c := range []struct {
		metric string
		labels []string
		want   float64
	}{
		{rivers.MetricEventsIn, []string{typ, river, "river", "readings"}, float64(len(goodIDs) + 6)}, // + malformed, schema, expired, duplicate, panic, loop,
		{rivers.MetricEventsExpired, []string{typ, river, "river", "readings"}, 1},
		{rivers.MetricEventsDuplicate, []string{typ, river, "river", "readings"}, 1},
		{rivers.MetricEventsDead, []string{typ, river, "class", rivers.ClassMalformed}, 1},
		{rivers.MetricEventsDead, []string{typ, river, "class", rivers.ClassSchema}, 1},
		{rivers.MetricEventsDead, []string{typ, river, "class", rivers.ClassPanic}, 1},
		{rivers.MetricEventsDead, []string{typ, river, "class", rivers.ClassLoop}, 1},
		{rivers.MetricEventsOut, []string{typ, events.TypeMeterReadingAnomalous, "topic", "rivers"}, float64(len(goodIDs))},
	} {
		if got := kit.Metric(c.metric, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}
	// Every record was committed, the bad ones included.
	if c, n := kit.Bus().Committed("voltage-watch", "rapids"), int64(len(kit.Bus().Records("rapids"))); c != n {
		t.Errorf("committed offset %d, want %d", c, n)
	}
	kit.Advance(5 * time.Second)
	hb := kit.Heartbeat()
	if hb.ExpiredTotal != 1 || hb.DeadLetteredTotal != 4 || hb.ProcessedTotal != len(goodIDs) {
		t.Errorf("heartbeat totals expired=%d dead=%d processed=%d, want 1, 4, %d", hb.ExpiredTotal, hb.DeadLetteredTotal, hb.ProcessedTotal, len(goodIDs))
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestTolerantReader(t *testing.T) {
	svc, err := rivers.NewService(testConfig("tolerant"))
	if err != nil {
		t.Fatal(err)
	}
	var handled []string
	h := func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
		handled = append(handled, ev.ID())
		return nil
	}
	svc.Handle(readingRiver(), h)
	svc.Handle(rivers.NewRiver("lab.experiment.v1").Require("x"), h)
	kit := riverstest.New(t, svc)
	now := kit.Now()
	withExtra := kit.Event(events.TypeMeterReading, map[string]any{
		"meter_id": "M1", "transformer_id": "TX-1", "feeder_id": "F-1", "read_at": now.Format(time.RFC3339),
		"interval_s": 900, "energy_kwh_total": 1.0, "demand_kw": 1.0, "voltage_v": 230.0, "firmware": "2.1"})
	kit.Send(withExtra, riverstest.OnTopic(rivers.Rapids))
	extraAndWrong := kit.Event(events.TypeMeterReading, map[string]any{
		"meter_id": "M1", "transformer_id": "TX-1", "feeder_id": "F-1", "read_at": now.Format(time.RFC3339),
		"interval_s": 900, "energy_kwh_total": -1.0, "demand_kw": 1.0, "voltage_v": 230.0, "firmware": "2.1"})
	kit.Send(extraAndWrong, riverstest.OnTopic(rivers.Rapids))
	unknown := kit.Event("lab.experiment.v1", map[string]any{"x": 1})
	kit.Send(unknown)
	if want := []string{withExtra.ID, unknown.ID}; !slices.Equal(handled, want) {
		t.Errorf("handled %v, want %v (a newer member and an unknown type are accepted)", handled, want)
	}
	if dls := kit.DeadLetters(); len(dls) != 1 || dls[0].Class != rivers.ClassSchema || !strings.Contains(dls[0].Error, "energy_kwh_total") {
		t.Errorf("dead letters %+v: want the negative register, class schema", dls)
	}
}
