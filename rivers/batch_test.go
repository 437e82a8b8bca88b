package rivers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// batchWatch is a batch handler that publishes an anomaly for every
// reading, and can be made to block, fail or panic on chosen meters.
type batchWatch struct {
	mu      sync.Mutex
	sizes   []int
	handled []string // meter ids, in the order of successful calls
	calls   int

	gate      chan struct{} // when set, the first call waits for it
	panicOn   string        // a batch holding this meter panics
	failOn    string        // this meter fails with failErr, reported as a BatchError
	failErr   error
	failTimes int // how many times failOn fails (0: always)
	failed    int
}

func (w *batchWatch) handle(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	w.mu.Lock()
	w.calls++
	first := w.calls == 1
	w.sizes = append(w.sizes, b.Len())
	w.mu.Unlock()
	if first && w.gate != nil {
		<-w.gate
	}
	var done []string
	for i := range b.Len() {
		r := b.Value(i)
		if r.MeterID == w.panicOn {
			panic("bad meter " + r.MeterID)
		}
		if r.MeterID == w.failOn {
			w.mu.Lock()
			w.failed++
			fail := w.failTimes == 0 || w.failed <= w.failTimes
			w.mu.Unlock()
			if fail {
				w.record(done)
				return &rivers.BatchError{Index: i, Err: w.failErr}
			}
		}
		if ev := b.Event(i); ev.ID() == "" || b.Delivery(i).Offset < 0 {
			return fmt.Errorf("event %d has no id or offset", i)
		}
		if err := b.Publisher(i).Publish(ctx, events.TypeMeterReadingAnomalous, events.MeterReadingAnomalous{
			MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
			ReadAt: r.ReadAt, ReadingEventID: b.Event(i).ID(), Reading: *r,
			Rule: "voltage_out_of_range", Reason: "test", DetectedAt: r.ReadAt,
		}, rivers.WithKey(r.MeterID)); err != nil {
			return err
		}
		done = append(done, r.MeterID)
	}
	w.record(done)
	return nil
}

func (w *batchWatch) record(done []string) {
	w.mu.Lock()
	w.handled = append(w.handled, done...)
	w.mu.Unlock()
}

func newBatchWatch(t *testing.T, w *batchWatch) (*riverstest.Kit, *rivers.Service) {
	t.Helper()
	svc, err := rivers.NewService(testConfig("batch-watch"))
	if err != nil {
		t.Fatal(err)
	}
	svc.Publishes(events.TypeMeterReadingAnomalous)
	rivers.HandleBatch(svc, readingRiver(), w.handle)
	return riverstest.New(t, svc), svc
}

// sendReadings appends readings of meters MTR-0..MTR-n-1 to the rapids at
// once and waits until the last is committed.
func sendReadings(t *testing.T, k *riverstest.Kit, n int, release chan struct{}) []contracts.Event {
	t.Helper()
	var evs []contracts.Event
	var last rivers.Record
	for i := range n {
		e := k.Event(events.TypeMeterReading, events.MeterReading{
			MeterID: fmt.Sprintf("MTR-%d", i), TransformerID: "TX-1", FeederID: "FDR-1",
			ReadAt: k.Now().Add(-time.Minute), IntervalSeconds: 900, EnergyKWhTotal: 10, DemandKW: 1, VoltageVolts: 200,
		})
		e.PartitionKey = fmt.Sprintf("MTR-%d", i)
		m, err := contracts.EncodeBinary(e)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := k.Bus().Append(rivers.Record{Topic: "rapids", Key: m.Key, Value: m.Value, Headers: m.Headers})
		if err != nil {
			t.Fatal(err)
		}
		last = rec
		evs = append(evs, e)
	}
	if release != nil {
		close(release)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for k.Bus().Committed("batch-watch", "rapids") <= last.Offset {
		if ctx.Err() != nil {
			t.Fatalf("offset %d not committed", last.Offset)
		}
		k.Advance(100 * time.Millisecond) // retry backoffs run on the kit's clock
		time.Sleep(time.Millisecond)
	}
	return evs
}

func anomaliesByMeter(k *riverstest.Kit) map[string]int {
	out := map[string]int{}
	for _, e := range k.Published(events.TypeMeterReadingAnomalous) {
		out[e.PartitionKey]++
	}
	return out
}

func TestBatchHandlerGetsRunsOfRecordsAndPublishesPerEvent(t *testing.T) {
	w := &batchWatch{gate: make(chan struct{})}
	k, _ := newBatchWatch(t, w)
	// The first reading is handled alone and blocks; the others queue up
	// behind it and come as one batch.
	first := sendFirst(t, k)
	evs := sendReadings(t, k, 50, w.gate)
	evs = append([]contracts.Event{first}, evs...)
	if got := len(w.handled); got != 51 {
		t.Fatalf("handled %d readings, want 51", got)
	}
	if slices.Max(w.sizes) < 2 {
		t.Fatalf("batch sizes %v: the queued readings did not come as a batch", w.sizes)
	}
	got := k.Published(events.TypeMeterReadingAnomalous)
	if len(got) != 51 {
		t.Fatalf("%d anomalies published, want 51", len(got))
	}
	causes := map[string]bool{}
	for _, e := range evs {
		causes[e.ID] = true
	}
	for _, e := range got {
		if !causes[e.CausationID] {
			t.Fatalf("anomaly %s names cause %q, not one of the readings", e.ID, e.CausationID)
		}
		delete(causes, e.CausationID)
	}
}

func sendFirst(t *testing.T, k *riverstest.Kit) contracts.Event {
	t.Helper()
	e := k.Event(events.TypeMeterReading, events.MeterReading{
		MeterID: "MTR-first", TransformerID: "TX-1", FeederID: "FDR-1",
		ReadAt: k.Now().Add(-time.Minute), IntervalSeconds: 900, EnergyKWhTotal: 10, DemandKW: 1, VoltageVolts: 200,
	})
	e.PartitionKey = "MTR-first"
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Bus().Append(rivers.Record{Topic: "rapids", Key: m.Key, Value: m.Value, Headers: m.Headers}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBatchErrorDeadLettersThatEventAloneAndGoesOn(t *testing.T) {
	w := &batchWatch{failOn: "MTR-7", failErr: rivers.Permanent(errors.New("meter 7 is bad"))}
	k, svc := newBatchWatch(t, w)
	sendReadings(t, k, 20, nil)
	if p := svc.Progress("rapids"); p[0] != 20 {
		t.Fatalf("Progress(rapids) = %v, want partition 0 done up to offset 20", p)
	}
	got := anomaliesByMeter(k)
	for i := range 20 {
		m := fmt.Sprintf("MTR-%d", i)
		want := 1
		if m == "MTR-7" {
			want = 0
		}
		if got[m] != want {
			t.Errorf("%s: %d anomalies published, want %d", m, got[m], want)
		}
	}
	dls := k.DeadLetters()
	if len(dls) != 1 || dls[0].Class != rivers.ClassPermanent {
		t.Fatalf("dead letters %+v, want one of class permanent", dls)
	}
}

func TestBatchErrorTransientIsRetriedWithoutDoublePublications(t *testing.T) {
	w := &batchWatch{failOn: "MTR-3", failErr: errors.New("store busy"), failTimes: 2}
	k, _ := newBatchWatch(t, w)
	sendReadings(t, k, 10, nil)
	for m, n := range anomaliesByMeter(k) {
		if n != 1 {
			t.Errorf("%s: %d anomalies, want exactly 1", m, n)
		}
	}
	if n := len(anomaliesByMeter(k)); n != 10 {
		t.Fatalf("%d meters with an anomaly, want 10", n)
	}
	if dls := k.DeadLetters(); len(dls) != 0 {
		t.Fatalf("dead letters %+v, want none: the failure was transient", dls)
	}
}

func TestBatchPanicFindsTheBadEventOneByOne(t *testing.T) {
	w := &batchWatch{panicOn: "MTR-5", gate: make(chan struct{})}
	k, _ := newBatchWatch(t, w)
	sendFirst(t, k)
	sendReadings(t, k, 12, w.gate)
	got := anomaliesByMeter(k)
	if got["MTR-5"] != 0 {
		t.Errorf("the panicking meter got %d anomalies", got["MTR-5"])
	}
	for i := range 12 {
		if m := fmt.Sprintf("MTR-%d", i); m != "MTR-5" && got[m] != 1 {
			t.Errorf("%s: %d anomalies, want 1", m, got[m])
		}
	}
	dls := k.DeadLetters()
	if len(dls) != 1 || dls[0].Class != rivers.ClassPanic {
		t.Fatalf("dead letters %+v, want exactly one of class panic", dls)
	}
}

// wrongShape reads meter_id as a number: every reading fails to decode.
type wrongShape struct {
	MeterID int `json:"meter_id"`
}

func TestBatchPayloadThatDoesNotDecodeIsDeadLettered(t *testing.T) {
	svc, err := rivers.NewService(testConfig("batch-watch"))
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	rivers.HandleBatch(svc, readingRiver(), func(ctx context.Context, b *rivers.Batch[wrongShape]) error {
		calls += b.Len()
		return nil
	})
	k := riverstest.New(t, svc)
	sendReadings(t, k, 3, nil)
	if calls != 0 {
		t.Fatalf("the handler saw %d readings that do not decode", calls)
	}
	if dls := k.DeadLetters(); len(dls) != 3 || dls[0].Class != rivers.ClassPermanent {
		t.Fatalf("dead letters %+v, want 3 of class permanent", dls)
	}
}

func TestHandleBatchRefusesUndeclaredFields(t *testing.T) {
	svc, err := rivers.NewService(testConfig("batch-watch"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if v := recover(); v == nil {
			t.Fatal("HandleBatch accepted a type with a field the river does not declare")
		}
	}()
	rivers.HandleBatch(svc, rivers.NewRiver(events.TypeMeterReading).OnTopic(rivers.Rapids).Require("meter_id"),
		func(context.Context, *rivers.Batch[events.MeterReading]) error { return nil })
}

// A river that declares no keys reads attributes only: a payload its
// schema refuses is no reason to dead-letter the event for it.
func TestRiverWithoutKeysIsNotSchemaChecked(t *testing.T) {
	svc, err := rivers.NewService(testConfig("attr-watch"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var sources []string
	svc.Handle(rivers.NewRiver(events.TypeMeterReading).OnTopic(rivers.Rapids).Passive(),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			mu.Lock()
			sources = append(sources, ev.Source())
			mu.Unlock()
			return nil
		})
	k := riverstest.New(t, svc)
	bad := k.Event(events.TypeMeterReading, map[string]any{"meter_id": "MTR-1", "voltage_v": "not a number"})
	k.Send(bad, riverstest.OnTopic(rivers.Rapids))
	if len(sources) != 1 || len(k.DeadLetters()) != 0 {
		t.Fatalf("handled %v with dead letters %+v: want the event handled and no dead letter", sources, k.DeadLetters())
	}
}
