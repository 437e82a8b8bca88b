package feederagg

import (
	"fmt"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// rd is meter m's read at minute min: register 1000 kWh + 0.25 kWh per
// 15 minutes, demand 1 kW, voltage 230 + m.
func rd(tx string, m, min int) Read {
	return Read{MeterID: fmt.Sprintf("%s-m%d", tx, m), TransformerID: tx, FeederID: "FD-1", ReadAt: at(min),
		Interval: 15 * time.Minute, EnergyKWh: 1000 + float64(min/15)*0.25, DemandKW: 1, VoltageV: 230 + float64(m)}
}

func loads(a *Aggregator) map[string]Load {
	out := make(map[string]Load)
	a.Advance(func(l Load) { out[fmt.Sprintf("%s %s %d", l.Level, l.ID, int(l.Start.Sub(t0)/time.Minute))] = l })
	return out
}

func TestWindows(t *testing.T) {
	tests := []struct {
		name  string
		reads []Read
		key   string
		want  Load
	}{
		{
			name:  "three meters in order",
			reads: []Read{rd("T1", 0, 0), rd("T1", 1, 0), rd("T1", 2, 0), rd("T1", 0, 15), rd("T1", 1, 15), rd("T1", 2, 15)},
			key:   "transformer T1 0",
			want:  Load{LoadKW: 3, EnergyWh: 750, VoltageMin: 230, VoltageMax: 232, VoltageAvg: 231, MetersReporting: 3, MetersExpected: 3, Reads: 3},
		},
		{
			name:  "duplicates and reversed order change nothing",
			reads: []Read{rd("T1", 0, 15), rd("T1", 0, 0), rd("T1", 1, 15), rd("T1", 1, 15), rd("T1", 1, 0), rd("T1", 2, 0), rd("T1", 2, 15), rd("T1", 2, 15)},
			key:   "transformer T1 0",
			want:  Load{LoadKW: 3, EnergyWh: 750, VoltageMin: 230, VoltageMax: 232, VoltageAvg: 231, MetersReporting: 3, MetersExpected: 3, Reads: 3},
		},
		{
			name:  "a silent meter is expected but not reporting",
			reads: []Read{rd("T1", 0, 0), rd("T1", 1, 0), rd("T1", 2, 0), rd("T1", 0, 15), rd("T1", 1, 15)},
			key:   "transformer T1 0",
			want:  Load{LoadKW: 2, EnergyWh: 500, VoltageMin: 230, VoltageMax: 231, VoltageAvg: 230.5, MetersReporting: 2, MetersExpected: 3, Reads: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAggregator(AggregatorConfig{Lateness: 30 * time.Minute})
			for _, r := range tt.reads {
				if _, err := a.Observe(r); err != nil {
					t.Fatal(err)
				}
			}
			// Move the watermark to 10:45: the window (10:00, 10:15] closes.
			a.Observe(rd("T9", 0, 45))
			got, ok := loads(a)[tt.key]
			if !ok {
				t.Fatalf("no %s in %v", tt.key, loads(a))
			}
			w := tt.want
			if got.EnergyWh != w.EnergyWh || math.Abs(got.LoadKW-w.LoadKW) > 1e-9 || got.MetersReporting != w.MetersReporting ||
				got.MetersExpected != w.MetersExpected || got.Reads != w.Reads || got.VoltageMin != w.VoltageMin ||
				got.VoltageMax != w.VoltageMax || math.Abs(got.VoltageAvg-w.VoltageAvg) > 1e-9 || !got.HasVoltage {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
			if !got.Start.Equal(at(0)) || !got.End.Equal(at(15)) || got.FeederID != "FD-1" {
				t.Errorf("window %v..%v feeder %s", got.Start, got.End, got.FeederID)
			}
		})
	}
}

func TestEmptyWindowStillReported(t *testing.T) {
	a := NewAggregator(AggregatorConfig{Lateness: 30 * time.Minute})
	for m := range 3 {
		a.Observe(rd("T1", m, 0))
	}
	// T1 goes dark; T2 keeps the watermark moving.
	for min := 0; min <= 90; min += 15 {
		a.Observe(rd("T2", 0, min))
	}
	l, ok := loads(a)["transformer T1 30"]
	if !ok || l.MetersReporting != 0 || l.MetersExpected != 3 || l.HasVoltage || l.LoadKW != 0 {
		t.Errorf("dark transformer window: %+v (found %v), want 0 of 3 reporting", l, ok)
	}
}

func TestLateReadDropped(t *testing.T) {
	a := NewAggregator(AggregatorConfig{Lateness: 0})
	a.Observe(rd("T1", 0, 0))
	a.Observe(rd("T1", 0, 30))
	if n := a.Advance(func(Load) {}); n != 3 {
		t.Fatalf("closed %d windows, want 3 (ending 10:00, 10:15, 10:30)", n)
	}
	if out, _ := a.Observe(rd("T1", 0, 15)); out != TooLate {
		t.Errorf("read for a closed window: %v, want too_late", out)
	}
	a.Observe(rd("T1", 0, 45))
	if out, _ := a.Observe(rd("T1", 0, 45)); out != Duplicate {
		t.Errorf("repeated read: %v, want duplicate", out)
	}
	if out, _ := a.Observe(rd("T1", 0, 24*60)); out != Implausible {
		t.Errorf("read a day ahead: %v, want implausible", out)
	}
	if _, err := a.Observe(Read{MeterID: "x", TransformerID: "T", ReadAt: at(0)}); err == nil {
		t.Error("a read without interval was accepted")
	}
}

// on returns r as read from partition part, fetched with behind records
// after it, stamped s seconds after 9:00 by the broker.
func on(r Read, part int, behind int64, s int) Read {
	r.Partition, r.Behind, r.RecordTime = part, behind, time.Date(2026, 12, 6, 9, 0, s, 0, time.UTC)
	return r
}

// key names a window in the maps of these tests.
func key(l Load) string {
	return fmt.Sprintf("%s %s %d", l.Level, l.ID, int(l.Start.Sub(t0)/time.Minute))
}

// Issue #12: lag may make a window late, never different. T2's meters live
// on partition 1, whose reader stalls after an hour with records pending
// while partition 0 (T1) runs four hours ahead. Under the old rule (the lowest watermark
// over partitions, a partition read to its end idle after 10 s of others'
// record time) a loaded reader closed windows without a partition's
// meters; now T1's windows close on partition 0 alone, T2's on partition 1
// alone, and both levels close with the figures of a run without the
// stall.
func TestAStalledPartitionHoldsItsOwnWindows(t *testing.T) {
	play := func(stall bool) map[string]Load {
		tr := NewTransformers(AggregatorConfig{Window: 15 * time.Minute, Lateness: 30 * time.Minute, MaxClockSkew: 2 * time.Hour, IdleAfter: 10 * time.Second})
		fd := NewFeeders(FeederConfig{})
		out := map[string]Load{}
		emit := func(l Load) {
			if _, dup := out[key(l)]; dup {
				t.Errorf("%s closed twice", key(l))
			}
			out[key(l)] = l
			if l.Level == Transformer {
				if _, err := fd.Observe(0, l, time.Time{}, emit2(out)); err != nil {
					t.Fatal(err)
				}
			}
		}
		var backlog []Read
		for i, min := 0, 0; min <= 300; i, min = i+1, min+15 {
			tr.Observe(on(rd("T1", 0, min), 0, 0, i), emit)
			tr.Observe(on(rd("T1", 1, min), 0, 0, i), emit)
			for m := range 2 {
				r := rd("T2", m, min)
				switch {
				case !stall || min < 60:
					tr.Observe(on(r, 1, 0, i), emit)
				case min == 60:
					tr.Observe(on(r, 1, 40, i), emit) // fetched with the next 40 behind it
				default:
					backlog = append(backlog, r)
				}
			}
			tr.CloseIdle(emit)
		}
		if stall {
			for k, l := range out {
				if l.ID != "T1" && l.Start.After(at(30)) {
					t.Errorf("%s closed while partition 1 had records to read", k)
				}
			}
			if _, ok := out["transformer T1 120"]; !ok {
				t.Error("T1's windows waited for partition 1")
			}
			for i, r := range backlog {
				tr.Observe(on(r, 1, int64(len(backlog)-i-1), 100), emit)
				tr.CloseIdle(emit)
			}
		}
		return out
	}
	want, got := play(false), play(true)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("closed %d windows after the stall, %d without", len(got), len(want))
	}
	feeders := 0
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s: %+v after the stall, %+v without", k, g, w)
		}
		if w.Level == Feeder {
			feeders++
			if w.MetersExpected != 4 {
				t.Errorf("%s: %d meters expected, want 4", k, w.MetersExpected)
			}
		}
	}
	if feeders == 0 {
		t.Error("no feeder window closed")
	}
}

// emit2 stores the feeder windows Feeders emits.
func emit2(out map[string]Load) func(Load) {
	return func(l Load) { out[key(l)] = l }
}

// A partition whose meters all fell silent, read to its end, closes its
// windows (0 reporting) on the others' watermark once IdleAfter of newer
// record time was read from them; one with records still to read never.
func TestASilentPartitionClosesOnTheOthers(t *testing.T) {
	for _, atEnd := range []bool{true, false} {
		tr := NewTransformers(AggregatorConfig{Lateness: 30 * time.Minute, IdleAfter: 10 * time.Second,
			AtEnd: func(p int) bool { return p != 1 || atEnd }})
		out := map[string]Load{}
		emit := func(l Load) { out[key(l)] = l }
		tr.Observe(on(rd("T2", 0, 0), 1, 0, 0), emit) // T2 goes silent
		for i, min := 0, 0; min <= 180; i, min = i+1, min+15 {
			tr.Observe(on(rd("T1", 0, min), 0, 0, 5*i), emit)
			tr.CloseIdle(emit)
		}
		l, ok := out["transformer T2 60"]
		if atEnd && (!ok || l.MetersReporting != 0 || l.MetersExpected != 1) {
			t.Errorf("silent partition: %+v (found %v), want 0 of 1 reporting", l, ok)
		}
		if !atEnd && ok {
			t.Errorf("a partition with records to read closed %+v", l)
		}
	}
}

// Issue #12 item 5: a restart mid-stream must close the windows an
// uninterrupted run does, with the same figures. An aggregator restored
// from MarshalBinary continues exactly.
func TestStateSurvivesARestart(t *testing.T) {
	run := func(restartAt int) map[string]Load {
		a := NewAggregator(AggregatorConfig{})
		out := make(map[string]Load)
		for min := 0; min <= 6*60; min += 15 {
			if min == restartAt {
				data, err := a.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				a = NewAggregator(AggregatorConfig{})
				if err := a.UnmarshalBinary(data); err != nil {
					t.Fatal(err)
				}
			}
			for _, tx := range []string{"T1", "T2"} {
				for m := range 3 {
					if tx == "T2" && m == 0 && min > 120 && min < 200 {
						continue // silent for a while
					}
					if _, err := a.Observe(rd(tx, m, min)); err != nil {
						t.Fatal(err)
					}
				}
			}
			for k, l := range loads(a) {
				if _, dup := out[k]; dup {
					t.Fatalf("window %s closed twice", k)
				}
				out[k] = l
			}
		}
		return out
	}
	want := run(-1)
	if len(want) == 0 {
		t.Fatal("no window closed")
	}
	for _, restartAt := range []int{30, 150, 300} {
		got := run(restartAt)
		if len(got) != len(want) {
			t.Errorf("restarted at minute %d: %d windows, want the %d of an uninterrupted run", restartAt, len(got), len(want))
		}
		for k, w := range want {
			if g := got[k]; g != w {
				t.Errorf("restarted at minute %d: window %s is %+v, want %+v", restartAt, k, g, w)
			}
		}
	}
}
