package outage

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

type fleet struct {
	d         *Detector
	suspected []events.OutageSuspected
	restored  []events.OutageRestored
}

func newFleet(cfg DetectorConfig) *fleet { return &fleet{d: NewDetector(cfg)} }

func mid(tx string, i int) string { return fmt.Sprintf("%s-m%02d", tx, i) }

// reads: meters [from, to) of tx report at min.
func (f *fleet) reads(tx string, from, to, min int) {
	for i := from; i < to; i++ {
		f.d.ObserveRead(mid(tx, i), tx, "FD-1", at(min), false)
	}
}

func (f *fleet) missed(tx string, from, to, min int) {
	for i := from; i < to; i++ {
		f.d.ObserveMissed(mid(tx, i), tx, "FD-1", at(min))
	}
}

func (f *fleet) eval() {
	f.d.Evaluate(t0, func(s events.OutageSuspected) { f.suspected = append(f.suspected, s) },
		func(r events.OutageRestored) { f.restored = append(f.restored, r) })
}

func TestOneDeadMeterIsNotAnOutage(t *testing.T) {
	f := newFleet(DetectorConfig{})
	// Two transformers: T1 of 4 meters (one dies), T2 of 2 meters (one dies: 50%).
	for min := 0; min <= 600; min += 15 {
		f.reads("T1", 1, 4, min)
		f.reads("T2", 1, 2, min)
		if min == 0 {
			f.reads("T1", 0, 1, min)
			f.reads("T2", 0, 1, min)
		} else {
			f.missed("T1", 0, 1, min)
			f.missed("T2", 0, 1, min)
		}
		f.eval()
	}
	if len(f.suspected) != 0 {
		t.Errorf("suspected %+v, want none", f.suspected)
	}
}

func TestOutageSuspectedOnceAndRestored(t *testing.T) {
	f := newFleet(DetectorConfig{})
	// T1: 10 meters; meter 9 has been dead since minute 15, longer than the
	// window before the outage. T2: 10 healthy meters.
	f.reads("T1", 0, 10, 0)
	f.reads("T2", 0, 10, 0)
	for min := 15; min <= 300; min += 15 {
		f.reads("T2", 0, 10, min)
		f.missed("T1", 9, 10, min)
		switch {
		case min < 120:
			f.reads("T1", 0, 9, min)
		case min < 240: // supply lost from 120 to 240 for meters 0-7
			f.missed("T1", 0, 8, min)
			f.reads("T1", 8, 9, min)
		default:
			f.reads("T1", 0, 9, min)
		}
		// A stale missed event for the outage arrives after restoration.
		if min == 255 {
			f.missed("T1", 0, 8, 225)
		}
		f.eval()
	}
	if len(f.suspected) != 1 {
		t.Fatalf("suspected %d times, want once: %+v", len(f.suspected), f.suspected)
	}
	s := f.suspected[0]
	want := []string{mid("T1", 0), mid("T1", 1), mid("T1", 2), mid("T1", 3), mid("T1", 4), mid("T1", 5), mid("T1", 6), mid("T1", 7)}
	if s.TransformerID != "T1" || !slices.Equal(s.MetersSilent, want) || s.MetersTotal != 10 ||
		s.SilentShare != 0.8 || !s.FirstSilentAt.Equal(at(120)) || s.Evidence.MissedReads < 8 || s.Evidence.ThresholdShare != 0.5 {
		t.Errorf("suspected %+v", s)
	}
	if len(f.restored) != 1 {
		t.Fatalf("restored %d times, want once: %+v", len(f.restored), f.restored)
	}
	r := f.restored[0]
	if r.OutageID != s.OutageID || !r.RestoredAt.Equal(at(240)) || r.DurationSeconds != 120*60 ||
		r.MetersAffected != 8 || r.MetersRestored != 8 || len(r.MetersStillSilent) != 0 {
		t.Errorf("restored %+v", r)
	}
}

func TestSilencesOutsideTheWindowDoNotCorrelate(t *testing.T) {
	f := newFleet(DetectorConfig{Window: time.Hour})
	// 4 meters die one by one, 2 hours apart: never 50% within an hour.
	f.reads("T1", 0, 6, 0)
	for m := 15; m <= 600; m += 15 {
		dead := min(m/120, 4) // meters [0, dead) are dead
		f.missed("T1", 0, dead, m)
		f.reads("T1", dead, 6, m)
		f.eval()
	}
	if len(f.suspected) != 0 {
		t.Errorf("suspected %+v, want none", f.suspected)
	}
}

func TestRestoredWithAStillSilentMeter(t *testing.T) {
	f := newFleet(DetectorConfig{})
	f.reads("T1", 0, 10, 0)
	for min := 15; min <= 120; min += 15 {
		if min < 60 {
			f.missed("T1", 0, 10, min)
		} else {
			f.reads("T1", 0, 9, min)
			f.missed("T1", 9, 10, min)
		}
		f.eval()
	}
	if len(f.suspected) != 1 || len(f.restored) != 1 {
		t.Fatalf("suspected %d, restored %d, want 1 and 1", len(f.suspected), len(f.restored))
	}
	r := f.restored[0]
	if !slices.Equal(r.MetersStillSilent, []string{mid("T1", 9)}) || r.MetersRestored != 9 || r.MetersAffected != 10 {
		t.Errorf("restored %+v", r)
	}
}

// Issue #12: an outage-detector whose rapids reader is behind got missed
// reads (from the rivers) before the reads that contradict them, and
// suspected outages for transformers whose meters all reported. Missed
// reads now wait until the reads watermark reaches them.
func TestMissedReadsWaitForTheReads(t *testing.T) {
	rec := func(s int) time.Time { return time.Date(2026, 12, 6, 9, 0, s, 0, time.UTC) }
	f := newFleet(DetectorConfig{})
	read := func(tx string, part, min int, behind int64, s int) {
		for i := range 10 {
			f.d.ObserveReadFrom(Source{Partition: part, Behind: behind, RecordTime: rec(s)}, mid(tx, i), tx, "FD-1", at(min), false)
		}
	}
	// T2's meters (partition 0) are read up to date; T1's (partition 1)
	// are read up to minute 0 with 200 records still to read.
	read("T1", 1, 0, 200, 0)
	for i, min := 0, 0; min <= 120; i, min = i+1, min+15 {
		read("T2", 0, min, 0, i)
	}
	// A gap-detector declared T1's meters missed at 15 and 30 (falsely, or
	// not: this detector cannot know yet).
	f.missed("T1", 0, 10, 15)
	f.missed("T1", 0, 10, 30)
	f.eval()
	if len(f.suspected) != 0 || f.d.Pending() != 20 {
		t.Fatalf("suspected %d, pending %d while partition 1 is behind; want 0, 20", len(f.suspected), f.d.Pending())
	}
	// The backlog is read: T1's meters reported all along.
	for i, min := 0, 15; min <= 120; i, min = i+1, min+15 {
		read("T1", 1, min, int64(7-i), 50)
		f.eval()
	}
	if len(f.suspected) != 0 || f.d.Pending() != 0 {
		t.Errorf("suspected %+v, pending %d after the backlog was read; want none", f.suspected, f.d.Pending())
	}

	// The same missed reads, T1 really silent, partition 1 read to its
	// end: the outage is suspected.
	g := newFleet(DetectorConfig{})
	for i := range 10 {
		g.d.ObserveReadFrom(Source{Partition: 1, RecordTime: rec(0)}, mid("T1", i), "T1", "FD-1", at(0), false)
	}
	for i, min := 0, 0; min <= 120; i, min = i+1, min+15 {
		for m := range 10 {
			g.d.ObserveReadFrom(Source{Partition: 0, RecordTime: rec(i)}, mid("T2", m), "T2", "FD-1", at(min), false)
		}
	}
	g.missed("T1", 0, 10, 15)
	g.eval()
	if len(g.suspected) != 1 || g.suspected[0].TransformerID != "T1" {
		t.Errorf("suspected %+v with T1 silent and read to its end, want T1", g.suspected)
	}
}

// After a start the detector knows only the meters it has heard since: a
// few silent meters look like most of a transformer. Nothing is suspected
// until the reads watermark has passed the first read by WarmUp.
func TestWarmUpWaitsForThePopulation(t *testing.T) {
	run := func(warmUp time.Duration) int {
		f := newFleet(DetectorConfig{WarmUp: warmUp})
		// Meters 0-3 are read first (their partition came first); 0-2 were
		// silent at minute 0 before the restart, as the rivers say.
		f.reads("T1", 3, 4, 0)
		f.missed("T1", 0, 3, 0)
		f.eval()
		// Then the whole population reports; 0-2 stay silent (dead meters,
		// three of ten: not an outage).
		for min := 15; min <= 120; min += 15 {
			f.reads("T1", 3, 10, min)
			f.missed("T1", 0, 3, min)
			f.eval()
		}
		return len(f.suspected)
	}
	if n := run(0); n != 1 {
		t.Fatalf("without warm-up: %d suspected, want the false one this test is about", n)
	}
	if n := run(time.Hour); n != 0 {
		t.Errorf("with a 1h warm-up: %d suspected, want none (3 silent of 10)", n)
	}
}

// Issue #12: at full speed the rapids are read hours of event time ahead
// of the rivers, so the missed reads of an outage arrive after the reads
// that ended it. The detector judges each instant on the meters'
// histories: the same outage, with the same times, whatever the order.
func TestMissedReadsAfterTheReadsThatEndedThem(t *testing.T) {
	type result struct {
		first, restored time.Time
		silent          int
	}
	run := func(missedLast bool) (out []result) {
		f := newFleet(DetectorConfig{WarmUp: time.Hour})
		var missed []func()
		for min := 0; min <= 360; min += 15 {
			f.reads("T2", 0, 10, min)
			switch {
			case min >= 120 && min < 240: // T1 meters 0-7 lose supply
				f.reads("T1", 8, 10, min)
				m := min
				missed = append(missed, func() { f.missed("T1", 0, 8, m) })
			default:
				f.reads("T1", 0, 10, min)
			}
			if !missedLast {
				for _, fn := range missed {
					fn()
				}
				missed = nil
				f.eval()
			}
		}
		for _, fn := range missed {
			fn()
			f.eval()
		}
		for i, s := range f.suspected {
			r := result{first: s.FirstSilentAt, silent: len(s.MetersSilent)}
			if i < len(f.restored) {
				r.restored = f.restored[i].RestoredAt
			}
			out = append(out, r)
		}
		return out
	}
	want := []result{{first: at(120), restored: at(240), silent: 8}}
	for _, missedLast := range []bool{false, true} {
		if got := run(missedLast); !slices.Equal(got, want) {
			t.Errorf("missed reads after the reads %v: suspected/restored %+v, want %+v", missedLast, got, want)
		}
	}
}

// Issue #12 item 5: a restart in the middle of an outage must neither
// suspect it again nor lose its restoration. The final checkpoint carries
// the whole state across.
func TestStateSurvivesARestartMidOutage(t *testing.T) {
	f := newFleet(DetectorConfig{WarmUp: time.Hour})
	for min := 0; min <= 180; min += 15 {
		f.reads("T2", 0, 10, min)
		if min >= 120 {
			f.reads("T1", 8, 10, min)
			f.missed("T1", 0, 8, min)
		} else {
			f.reads("T1", 0, 10, min)
		}
		f.eval()
	}
	if len(f.suspected) != 1 {
		t.Fatalf("before the restart: %d suspected, want 1", len(f.suspected))
	}
	data, err := f.d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	g := newFleet(DetectorConfig{WarmUp: time.Hour})
	if err := g.d.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for min := 195; min <= 300; min += 15 {
		g.reads("T2", 0, 10, min)
		if min < 240 {
			g.reads("T1", 8, 10, min)
			g.missed("T1", 0, 8, min)
		} else {
			g.reads("T1", 0, 10, min)
		}
		g.eval()
	}
	if len(g.suspected) != 0 || len(g.restored) != 1 {
		t.Fatalf("after the restart: suspected %+v, restored %+v; want none and one", g.suspected, g.restored)
	}
	if r := g.restored[0]; r.OutageID != f.suspected[0].OutageID || !r.RestoredAt.Equal(at(240)) || !r.FirstSilentAt.Equal(at(120)) {
		t.Errorf("restored %+v, want outage %s from %s to %s", r, f.suspected[0].OutageID, at(120), at(240))
	}
}
