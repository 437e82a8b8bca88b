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
			f.Observe(0, streams[tx][0], func(l Load) { t.Fatalf("%s closed before a later window", key(l)) })
			pos[tx] = 1
		}
		for left := true; left; {
			left = false
			tx := txs[rng.IntN(len(txs))]
			if pos[tx] < len(streams[tx]) {
				f.Observe(0, streams[tx][pos[tx]], func(l Load) {
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
	f.Observe(0, tw("T1", 0, 2), emit)
	f.Observe(0, tw("T2", 0, 2), emit)
	for min := 15; min <= 90; min += 15 {
		f.Observe(0, tw("T1", min, 2), emit) // T2 stalls
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
	if o, _ := f.Observe(0, tw("T2", 15, 2), emit); o != TooLate {
		t.Errorf("T2's window for a closed feeder window: %v, want too_late", o)
	}
	f.Drop(0)
	if f.Open() != 0 {
		t.Error("Drop kept windows")
	}
}
