package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestPacedDrainsAfterEnd: in paced mode the uploads due after End (up to
// End + MaxUploadDelay) and the reads held back by out_of_order faults are
// published too — everything the generator produced goes out.
func TestPacedDrainsAfterEnd(t *testing.T) {
	cfg := testConfig(200)
	cfg.End = riverstest.Start.Add(time.Hour)
	cfg.Faults = []Fault{{Kind: FaultOutOfOrder, Rate: 0.2}, {Kind: FaultDuplicate, Rate: 0.05}}
	k, sim := newKit(t, cfg)
	// 900× speed: one grid hour and the 5-minute upload delay take 4.3
	// wall seconds; 60 ticks are 6.
	for range 60 {
		k.Advance(Tick)
	}
	st := sim.Stats()
	rs := readings(t, k)
	if uint64(len(rs)) != st.Readings+st.Duplicates || st.Delayed == 0 {
		t.Fatalf("%d readings published, generated %+v", len(rs), st)
	}
	atEnd := 0
	for _, r := range rs {
		if r.ReadAt.Equal(cfg.End) {
			atEnd++
		}
	}
	if atEnd < 200 {
		t.Errorf("%d readings of the last interval (read at End), want at least 200", atEnd)
	}
	if got, want := sim.GridNow(), cfg.End.Add(cfg.MaxUploadDelay); !got.Equal(want) {
		t.Errorf("grid clock %s, want it stopped at End + MaxUploadDelay %s", got, want)
	}
}

// TestPublishesInBoundedBatches: a simulator far behind its grid clock
// (catch-up) publishes in batches of at most BatchSize records, at most
// publishLanes batches at once, and its count rises tick after tick.
func TestPublishesInBoundedBatches(t *testing.T) {
	cfg := testConfig(1000)
	cfg.Speed = 900 * 200 // each tick: 5 grid hours = 20 intervals
	cfg.BatchSize = 200
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", HTTPAddr: "off"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inFlight, maxInFlight, calls, maxBatch := 0, 0, 0, 0
	readAts := map[time.Time]bool{}
	bus := riverstest.NewBus()
	sink := func(ctx context.Context, recs ...rivers.Record) error {
		mu.Lock()
		inFlight++
		calls++
		maxInFlight = max(maxInFlight, inFlight)
		maxBatch = max(maxBatch, len(recs))
		mu.Unlock()
		time.Sleep(time.Millisecond) // a broker's round trip, so batches overlap
		err := bus.Publish(ctx, recs...)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return err
	}
	sim, err := newSimulator(svc, cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	k := riverstest.New(t, svc, riverstest.WithBus(bus))
	k.Advance(Tick)
	first := sim.Published()
	k.Advance(Tick)
	if first == 0 || sim.Published() <= first {
		t.Fatalf("published %d after one tick, %d after two: want a steady rise", first, sim.Published())
	}
	for _, e := range k.Published(events.TypeMeterReading) {
		var r events.MeterReading
		if err := json.Unmarshal(e.Data, &r); err != nil {
			t.Fatal(err)
		}
		readAts[r.ReadAt] = true
	}
	if maxBatch > cfg.BatchSize || maxInFlight > publishLanes || calls < int(sim.Published())/cfg.BatchSize || len(sim.retry) != 0 {
		t.Fatalf("%d publish calls, largest %d records, %d at once, %d batches left: want at most %d records, %d at once",
			calls, maxBatch, maxInFlight, len(sim.retry), cfg.BatchSize, publishLanes)
	}
	if len(readAts) < 20 {
		t.Fatalf("%d intervals published in two ticks of 5 grid hours", len(readAts))
	}
}

// TestResumesFromCheckpoint runs the simulator, stops it, and starts a new
// one on the same checkpoint: the grid clock continues, intervals already
// published are not published again, no id is ever published with two
// contents, and the two runs together publish every reading.
func TestResumesFromCheckpoint(t *testing.T) {
	cfg := testConfig(100)
	cfg.Start = time.Time{} // the first run's wall clock, kept in the checkpoint
	cfg.Checkpoint = filepath.Join(t.TempDir(), "sim.json")
	cfg.Faults = []Fault{{Kind: FaultOutOfOrder, Rate: 0.1}}

	content := map[string]string{}   // ce_id → data, over both runs
	readAt := map[string]time.Time{} // ce_id → read_at
	collect := func(k *riverstest.Kit) map[time.Time]bool {
		at := map[time.Time]bool{}
		for _, e := range k.Published(events.TypeMeterReading) {
			var r events.MeterReading
			if err := json.Unmarshal(e.Data, &r); err != nil {
				t.Fatal(err)
			}
			if c, ok := content[e.ID]; ok && c != string(e.Data) {
				t.Fatalf("ce_id %s published with two contents:\n%s\n%s", e.ID, c, e.Data)
			}
			content[e.ID], readAt[e.ID] = string(e.Data), r.ReadAt
			at[r.ReadAt] = true
		}
		return at
	}

	k1, sim1 := newKit(t, cfg)
	for range 25 { // 2.5 wall seconds: 37.5 grid minutes
		k1.Advance(Tick)
	}
	collect(k1)
	stop1 := sim1.GridNow()
	if err := k1.Stop(); err != nil {
		t.Fatal(err)
	}
	cp, err := loadCheckpoint(cfg.Checkpoint)
	if err != nil || cp == nil {
		t.Fatalf("checkpoint after the first run: %+v, %v", cp, err)
	}
	start := sim1.Model().sc.Start
	if !cp.Next.After(start.Add(15*time.Minute)) || cp.Grid.After(stop1) {
		t.Fatalf("checkpoint %+v after a run to grid %s", cp, stop1)
	}

	k2, sim2 := newKit(t, cfg)
	if got := sim2.Model().sc.Start; !got.Equal(start) {
		t.Fatalf("resumed with start %s, the first run started at %s", got, start)
	}
	if g := sim2.GridNow(); !g.Equal(cp.Grid) {
		t.Fatalf("resumed grid clock %s, want the checkpoint's %s", g, cp.Grid)
	}
	for range 30 {
		k2.Advance(Tick)
	}
	again := collect(k2)
	stop2 := sim2.GridNow()
	if !stop2.After(stop1.Add(30 * time.Minute)) {
		t.Fatalf("grid clock %s after the restart, %s before: it did not continue", stop2, stop1)
	}
	// Only the interval in progress (and reads held back from the one
	// before it, which ride with its uploads) may be published again.
	for at := range again {
		if at.Before(cp.Next.Add(-15 * time.Minute)) {
			t.Errorf("interval read at %s published again after the restart (checkpoint at %s)", at, cp.Next)
		}
	}
	perInterval := map[time.Time]int{}
	for id := range content {
		perInterval[readAt[id]]++
	}
	for at := start.Add(15 * time.Minute); at.Add(15 * time.Minute).Before(stop2.Add(-cfg.MaxUploadDelay)); at = at.Add(15 * time.Minute) {
		if perInterval[at] != 100 {
			t.Errorf("interval %s: %d distinct readings over both runs, want 100", at, perInterval[at])
		}
	}
}

// TestPublishFailureSendsTheBatchesAgain: a refused batch makes the run
// fail; the next run sends the batches left unacknowledged first, and
// nothing is lost or published with another content.
func TestPublishFailureSendsTheBatchesAgain(t *testing.T) {
	cfg := testConfig(50)
	cfg.Rate = RateMax
	cfg.End = riverstest.Start.Add(2 * time.Hour)
	cfg.BatchSize = 20
	k, sim := newKit(t, cfg)
	refused := errors.New("broker refused the batch")
	k.Bus().FailPublish(refused)
	for range 20 {
		k.Advance(Tick)
	}
	content := map[string]string{}
	for _, e := range k.Published(events.TypeMeterReading) {
		if c, ok := content[e.ID]; ok && c != string(e.Data) {
			t.Fatalf("ce_id %s published with two contents", e.ID)
		}
		content[e.ID] = string(e.Data)
	}
	if len(content) != 50*8 {
		t.Fatalf("%d distinct readings after a refused batch, want %d", len(content), 50*8)
	}
	if len(sim.retry) != 0 {
		t.Fatalf("%d batches still to send again", len(sim.retry))
	}
}
