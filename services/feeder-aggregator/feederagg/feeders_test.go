package feederagg

import (
	"math/rand/v2"
	"testing"
	"time"
)

// tw is transformer tx's window starting at minute min, with n meters
// reporting of 2 expected.
func tw(tx string, min, n int) Load {
	v := 230.0
	return Load{Level: Transformer, ID: tx, FeederID: "FD-1", Start: at(min), End: at(min + 15), LoadKW: float64(n),
		EnergyWh: int64(250 * n), VoltageMin: v, VoltageMax: v + float64(n), VoltageAvg: v + float64(n)/2, HasVoltage: n > 0,
		MetersReporting: n, MetersExpected: 2}
}

// The feeder windows are the same whatever the order the transformers'
// windows arrive in (each transformer's own in order, as its partition
// publishes them), and each closes once, complete. Each transformer's first
// window comes first: a transformer never seen cannot be waited for.
func TestFeedersIndependentOfArrivalOrder(t *testing.T) {
	streams := map[string][]Load{}
	for _, tx := range []string{"T1", "T2", "T3"} {
		for min := 0; min < 240; min += 15 {
			n := 2
			if tx == "T2" && min >= 60 && min < 120 {
				n = 0 // silent for an hour: still published, 0 reporting
			}
			if tx == "T3" && min == 90 {
				continue // no expected meter in that window: skipped
			}
			streams[tx] = append(streams[tx], tw(tx, min, n))
		}
	}
	play := func(seed uint64) map[string]Load {
		rng := rand.New(rand.NewPCG(seed, 1))
		f := NewFeeders(FeederConfig{})
		out := map[string]Load{}
		pos := map[string]int{}
		txs := []string{"T1", "T2", "T3"}
		for _, tx := range txs {
			f.Observe(0, streams[tx][0], time.Time{}, func(l Load) { t.Fatalf("%s closed before a later window", key(l)) })
			pos[tx] = 1
		}
		for left := true; left; {
			left = false
			tx := txs[rng.IntN(len(txs))]
			if pos[tx] < len(streams[tx]) {
				f.Observe(0, streams[tx][pos[tx]], time.Time{}, func(l Load) {
					if _, dup := out[key(l)]; dup {
						t.Errorf("%s closed twice", key(l))
					}
					out[key(l)] = l
				})
				pos[tx]++
			}
			for _, tx := range txs {
				left = left || pos[tx] < len(streams[tx])
			}
		}
		return out
	}
	want := play(0)
	if len(want) < 14 {
		t.Fatalf("%d feeder windows closed, want at least 14 of 16", len(want))
	}
	if w := want["feeder FD-1 60"]; w.MetersReporting != 4 || w.MetersExpected != 6 || w.EnergyWh != 1000 {
		t.Errorf("window with T2 silent: %+v", w)
	}
	if w := want["feeder FD-1 90"]; w.MetersReporting != 2 || w.MetersExpected != 4 {
		t.Errorf("window T3 skipped: %+v", w)
	}
	for seed := uint64(1); seed < 50; seed++ {
		got := play(seed)
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d windows, want %d", seed, len(got), len(want))
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("seed %d: %s = %+v, want %+v", seed, k, got[k], w)
			}
		}
	}
}

// A transformer that stopped being published is waited for until the
// rivers partition's time is Wait past the window; a window it reports
// after that is dropped.
func TestFeedersWaitThenClose(t *testing.T) {
	f := NewFeeders(FeederConfig{Wait: time.Hour})
	out := map[string]Load{}
	emit := func(l Load) { out[key(l)] = l }
	f.Observe(0, tw("T1", 0, 2), time.Time{}, emit)
	f.Observe(0, tw("T2", 0, 2), time.Time{}, emit)
	for min := 15; min <= 90; min += 15 {
		f.Observe(0, tw("T1", min, 2), time.Time{}, emit) // T2 stalls
		if _, closed := out["feeder FD-1 15"]; closed != (min >= 75) {
			t.Fatalf("T1's window %d read: window 15 closed %v; want it closed once T1's window ending 90 = 30+60 is read", min, closed)
		}
	}
	if w := out["feeder FD-1 15"]; w.MetersReporting != 2 || w.MetersExpected != 2 {
		t.Errorf("window closed on the wait: %+v, want T1's alone", w)
	}
	if w := out["feeder FD-1 0"]; w.MetersReporting != 4 {
		t.Errorf("first window: %+v, want both transformers", w)
	}
	if o, _ := f.Observe(0, tw("T2", 15, 2), time.Time{}, emit); o != TooLate {
		t.Errorf("T2's window for a closed feeder window: %v, want too_late", o)
	}
	f.Drop(0)
	if f.Open() != 0 {
		t.Error("Drop kept windows")
	}
}

// At the start, a complete feeder window waits Settle of record time after
// the feeder's first transformer window: a transformer of another rapids
// partition whose first window comes meanwhile is counted.
func TestFeedersSettleAtTheStart(t *testing.T) {
	rec := func(s int) time.Time { return time.Date(2026, 12, 6, 9, 0, s, 0, time.UTC) }
	f := NewFeeders(FeederConfig{Settle: 10 * time.Second})
	out := map[string]Load{}
	emit := func(l Load) { out[key(l)] = l }
	f.Observe(0, tw("T1", 0, 2), rec(0), emit)
	f.Observe(0, tw("T1", 15, 2), rec(1), emit)
	f.Observe(0, tw("T2", 0, 2), rec(5), emit) // T2's partition started late
	if n := f.Settled(rec(9), emit); n != 0 || len(out) != 0 {
		t.Fatalf("closed %v before the settle", out)
	}
	if n := f.Settled(rec(10), emit); n != 1 || out["feeder FD-1 0"].MetersReporting != 4 {
		t.Fatalf("after the settle: %d closed, %v; want window 0 with both transformers", n, out)
	}
	f.Observe(0, tw("T2", 15, 2), rec(11), emit)
	f.Observe(0, tw("T1", 30, 2), rec(12), emit)
	if out["feeder FD-1 15"].MetersReporting != 4 {
		t.Errorf("settled: window 15 %+v, want it closed complete on the record", out["feeder FD-1 15"])
	}
}
