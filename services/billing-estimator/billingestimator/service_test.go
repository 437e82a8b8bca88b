package billingestimator

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

const interval = 15 * time.Minute

// day0 is midnight of the first simulated day (a Monday).
var day0 = time.Date(2029, 12, 31, 0, 0, 0, 0, time.UTC)

func newService(t *testing.T, version, method string, ask bool, expect int) *rivers.Service {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: version, Instance: Name + "-" + version,
		Group: Name + "-" + version, HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(svc, Config{Method: method, Ask: &ask, Deadline: 5 * time.Second, Expect: expect, Hold: time.Hour}); err != nil {
		t.Fatal(err)
	}
	return svc
}

// register is a meter's true register at t: 1 kW by day (6-22h), 0.2 kW by
// night, from 1000 kWh at day0.
func register(t time.Time) float64 {
	var kwh float64
	for ts := day0; ts.Before(t); ts = ts.Add(interval) {
		kwh += power(ts) * interval.Hours()
	}
	return round3(1000 + kwh)
}

func power(t time.Time) float64 {
	if h := t.Hour(); h >= 6 && h < 22 {
		return 1
	}
	return 0.2
}

func reading(meter string, at time.Time) events.MeterReading {
	return events.MeterReading{MeterID: meter, TransformerID: "TX-1", FeederID: "FDR-1", ReadAt: at,
		IntervalSeconds: 900, EnergyKWhTotal: register(at), DemandKW: power(at.Add(-interval)), VoltageVolts: 230}
}

func sendReading(kit *riverstest.Kit, meter string, at time.Time) {
	r := reading(meter, at)
	e := kit.Event(events.TypeMeterReading, contracts.Identified{ID: events.ReadingID(meter, at), Data: r})
	e.PartitionKey = meter
	kit.Send(e, riverstest.OnTopic(rivers.Rapids))
}

func sendMissed(kit *riverstest.Kit, meter string, at, last time.Time, consecutive int) {
	m := events.MeterReadingMissed{MeterID: meter, TransformerID: "TX-1", FeederID: "FDR-1", ExpectedAt: at,
		IntervalSeconds: 900, GraceSeconds: 1800, ConsecutiveMissed: consecutive, DetectedAt: at.Add(30 * time.Minute),
		LastReadAt: last, LastEnergyKWhTotal: ptr(register(last))}
	e := kit.Event(events.TypeMeterReadingMissed, m)
	e.PartitionKey = meter
	kit.Send(e)
}

func published[T any](t *testing.T, kit *riverstest.Kit, typ string) []T {
	t.Helper()
	var out []T
	for _, e := range kit.Published(typ) {
		var v T
		if err := json.Unmarshal(e.Data, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// A short gap: the read after it brackets it, the estimator interpolates,
// the late actual read trues it up, and the billing day is published
// with its estimated intervals, then corrected.
func TestShortGapEstimatedTruedUpAndBilled(t *testing.T) {
	kit := riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 0))
	gap := day0.Add(10 * time.Hour) // 10:00 goes missing
	for at := day0; !at.After(day0.Add(24 * time.Hour)); at = at.Add(interval) {
		if !at.Equal(gap) {
			sendReading(kit, "MTR-1", at)
		}
	}
	if n := len(kit.Published(events.TypeBillingPeriod)); n != 0 {
		t.Fatalf("billing periods = %d before the gap is estimated, want 0", n)
	}
	sendMissed(kit, "MTR-1", gap, gap.Add(-interval), 1)
	needs := published[events.EstimateNeeded](t, kit, events.TypeEstimateNeeded)
	if len(needs) != 1 || needs[0].AfterReadAt != gap.Add(interval) || needs[0].BeforeReadAt != gap.Add(-interval) || needs[0].GapIntervals != 2 {
		t.Fatalf("needs = %+v, want one bracketed by 09:45 and 10:15", needs)
	}
	kit.Settle() // it answers its own need
	if n := len(kit.Published(events.TypeEstimateSolution)); n != 1 {
		t.Fatalf("solutions = %d, want 1", n)
	}
	if n := len(kit.Published(events.TypeMeterReadingEstimated)); n != 0 {
		t.Fatalf("estimated before the deadline: %d", n)
	}
	kit.Advance(5 * time.Second)
	est := published[events.MeterReadingEstimated](t, kit, events.TypeMeterReadingEstimated)
	wantReg := round3((register(gap.Add(-interval)) + register(gap.Add(interval))) / 2)
	if len(est) != 1 || est[0].EnergyKWhTotal != wantReg || est[0].Method != MethodInterpolation || est[0].Confidence != 0.95 ||
		est[0].SolverVersion != "v1" || est[0].Candidates != 1 || !est[0].ReadAt.Equal(gap) {
		t.Fatalf("estimates = %+v, want register %v by interpolation", est, wantReg)
	}
	periods := published[events.BillingPeriod](t, kit, events.TypeBillingPeriod)
	if len(periods) != 1 || periods[0].EstimatedIntervals != 2 || periods[0].MeasuredIntervals != 94 || periods[0].Revision != 0 ||
		periods[0].TotalKWh != round3(register(day0.Add(24*time.Hour))-1000) {
		t.Fatalf("billing periods = %+v, want day 0 with 2 estimated intervals", periods)
	}
	if math.Abs(periods[0].MeasuredKWh+periods[0].EstimatedKWh-periods[0].TotalKWh) > 0.002 {
		t.Fatalf("measured + estimated = %v, want the total %v", periods[0].MeasuredKWh+periods[0].EstimatedKWh, periods[0].TotalKWh)
	}

	sendReading(kit, "MTR-1", gap) // the actual read, late
	adj := published[events.MeterReadingAdjusted](t, kit, events.TypeMeterReadingAdjusted)
	if len(adj) != 1 || adj[0].ActualEnergyKWhTotal != register(gap) || adj[0].DeltaKWh != round3(register(gap)-wantReg) || adj[0].NeedID != est[0].NeedID {
		t.Fatalf("true-ups = %+v, want delta %v", adj, round3(register(gap)-wantReg))
	}
	periods = published[events.BillingPeriod](t, kit, events.TypeBillingPeriod)
	if len(periods) != 2 || periods[1].Revision != 1 || periods[1].EstimatedIntervals != 0 || periods[1].MeasuredIntervals != 96 {
		t.Fatalf("billing periods = %+v, want a revision 1 all measured", periods)
	}
	if n := kit.Metric(MetricSlots, "outcome", "trued_up"); n != 1 {
		t.Errorf("%s{trued_up} = %v, want 1", MetricSlots, n)
	}
}

// The missed event can be read before the rapids' reads around its gap
// (two topics, no order between them): the read it names as its last one
// still bounds the billing day when it arrives, and the day is billed.
func TestMissedReadBeforeTheReadsStillBillsTheDay(t *testing.T) {
	kit := riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 0))
	gap := day0.Add(10 * time.Hour)
	sendReading(kit, "MTR-1", day0) // the meter is known, its day open
	sendMissed(kit, "MTR-1", gap, gap.Add(-interval), 1)
	for at := day0.Add(interval); !at.After(day0.Add(24 * time.Hour)); at = at.Add(interval) {
		if !at.Equal(gap) {
			sendReading(kit, "MTR-1", at)
		}
	}
	kit.Settle()
	kit.Advance(5 * time.Second)
	if n := len(kit.Published(events.TypeMeterReadingEstimated)); n != 1 {
		t.Fatalf("estimates = %d, want 1", n)
	}
	periods := published[events.BillingPeriod](t, kit, events.TypeBillingPeriod)
	if len(periods) != 1 || periods[0].EstimatedIntervals != 2 || periods[0].MeasuredIntervals != 94 {
		t.Fatalf("billing periods = %+v, want day 0 with 2 estimated intervals (09:45, named by the missed event, is an actual read)", periods)
	}
}

// A read that arrives before its estimate is decided recovers the slot:
// nothing is estimated.
func TestRecoveredReadIsNotEstimated(t *testing.T) {
	kit := riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 0))
	gap := day0.Add(10 * time.Hour)
	sendReading(kit, "MTR-1", gap.Add(-interval))
	sendReading(kit, "MTR-1", gap.Add(interval))
	sendMissed(kit, "MTR-1", gap, gap.Add(-interval), 1)
	sendReading(kit, "MTR-1", gap) // before the deadline
	kit.Settle()
	kit.Advance(5 * time.Second)
	if n := len(kit.Published(events.TypeMeterReadingEstimated)); n != 0 {
		t.Fatalf("estimates = %d, want 0: the read was recovered", n)
	}
	if n := kit.Metric(MetricSlots, "outcome", "recovered"); n != 1 {
		t.Fatalf("recovered = %v, want 1", n)
	}
	sendMissed(kit, "MTR-1", gap, gap.Add(-interval), 1) // a repeated missed event for a read we have
	if n := kit.Metric(MetricSlots, "outcome", "recovered"); n != 2 {
		t.Fatalf("recovered = %v, want 2", n)
	}
	if n := len(kit.Published(events.TypeEstimateNeeded)); n != 1 {
		t.Fatalf("needs = %d, want 1", n)
	}
}

// A meter silent past the hold is estimated without the read after the
// gap, from its mean power.
func TestSilentMeterEstimatedAfterHold(t *testing.T) {
	kit := riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 0))
	last := day0.Add(10 * time.Hour)
	for at := last.Add(-2 * time.Hour); !at.After(last); at = at.Add(interval) {
		sendReading(kit, "MTR-1", at)
	}
	for k := 1; k <= 4; k++ { // silent for an hour: the hold
		sendMissed(kit, "MTR-1", last.Add(time.Duration(k)*interval), last, k)
	}
	needs := published[events.EstimateNeeded](t, kit, events.TypeEstimateNeeded)
	if len(needs) != 0 {
		t.Fatalf("needs = %+v, want none within the hold", needs)
	}
	sendMissed(kit, "MTR-1", last.Add(5*interval), last, 5)
	needs = published[events.EstimateNeeded](t, kit, events.TypeEstimateNeeded)
	if len(needs) != 1 || !needs[0].ExpectedAt.Equal(last.Add(interval)) || needs[0].AfterEnergyKWhTotal != nil {
		t.Fatalf("needs = %+v, want 10:15 unbracketed", needs)
	}
	kit.Settle()
	kit.Advance(5 * time.Second)
	est := published[events.MeterReadingEstimated](t, kit, events.TypeMeterReadingEstimated)
	if len(est) != 1 || est[0].EnergyKWhTotal != round3(register(last)+0.25) || est[0].Confidence != 0.5 {
		t.Fatalf("estimates = %+v, want %v at 0.5 (1 kW carried forward)", est, round3(register(last)+0.25))
	}
}

// Two versions side by side answer the same need; on a long gap the
// profile version, which knows the meter's day, wins over interpolation.
func TestVersionsSideBySide(t *testing.T) {
	bus, clock := riverstest.NewBus(), riverstest.NewClock(riverstest.Start)
	v1 := riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 2), riverstest.WithBus(bus), riverstest.WithClock(clock))
	v2 := riverstest.New(t, newService(t, "v2", MethodProfile, false, 0), riverstest.WithBus(bus), riverstest.WithClock(clock))
	gapStart := day0.Add(7*24*time.Hour + 4*time.Hour) // Monday 04:00, a week of history
	gapEnd := gapStart.Add(4 * time.Hour)              // 15 reads missing
	for at := day0; !at.After(gapEnd); at = at.Add(interval) {
		if at.After(gapStart) && at.Before(gapEnd) {
			continue
		}
		sendReading(v1, "MTR-1", at) // one bus: v2 reads them too
	}
	v2.Settle()
	at := gapStart.Add(3 * time.Hour) // 07:00, after the morning step
	sendMissed(v1, "MTR-1", at, gapStart, 12)
	v2.Settle()
	v1.Settle()
	est := published[events.MeterReadingEstimated](t, v1, events.TypeMeterReadingEstimated)
	if len(est) != 1 {
		t.Fatalf("estimates = %d, want 1 (decided at 2 answers)", len(est))
		for _, o := range []string{"collected", "late", "unknown", "duplicate"} {
			t.Logf("%s %v", o, v1.Metric(rivers.MetricSolutions, "outcome", o))
		}
		t.Logf("slots %v %v %v", v1.Metric(MetricSlots, "outcome", "estimated"), v1.Metric(MetricSlots, "outcome", "recovered"), v1.Metric(rivers.MetricNeedsDecided, "outcome", "solved"))
	}
	sols := published[events.EstimateSolution](t, v1, events.TypeEstimateSolution) // same service name: both versions
	if len(sols) != 2 {
		t.Fatalf("solutions = %+v, want 2", sols)
	}
	byVersion := map[string]events.EstimateSolution{}
	for _, s := range sols {
		byVersion[s.SolverVersion] = s
	}
	truth := register(at)
	p, i := byVersion["v2"], byVersion["v1"]
	if est[0].SolverVersion != "v2" || est[0].Method != MethodProfile || p.Confidence <= i.Confidence {
		t.Fatalf("estimate %+v from %+v vs %+v: want the profile version's", est[0], p, i)
	}
	if math.Abs(p.EnergyKWhTotal-truth) >= math.Abs(i.EnergyKWhTotal-truth) || math.Abs(p.EnergyKWhTotal-truth) > 0.05 {
		t.Fatalf("profile %v, interpolation %v, truth %v: want the profile closer, within 0.05 kWh", p.EnergyKWhTotal, i.EnergyKWhTotal, truth)
	}
}

// Bad input is dead-lettered with its origin; nothing stops.
func TestBadInputIsDeadLettered(t *testing.T) {
	kit := riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 0))
	e := kit.Event(events.TypeMeterReadingMissed, json.RawMessage(`{"meter_id":"MTR-1"}`))
	kit.Send(e)
	kit.SendRecord(rivers.Record{Topic: "rapids", Key: []byte("MTR-2"), Value: []byte("{not json"), Headers: []contracts.Header{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("x")}, {Key: "ce_source", Value: []byte("/t")},
		{Key: "ce_type", Value: []byte(events.TypeMeterReading)}}})
	dl := kit.DeadLetters()
	classes := map[string]string{}
	for _, d := range dl {
		classes[d.OriginTopic] = d.Class
	}
	if len(dl) != 2 || classes["rivers"] != rivers.ClassSchema || classes["rapids"] != rivers.ClassMalformed {
		t.Fatalf("dead letters = %+v, want a schema one and a malformed one from the rapids", dl)
	}
	sendReading(kit, "MTR-3", day0.Add(time.Hour)) // still processing
	if n := kit.Metric(rivers.MetricHandlerDuration, "river", "meter-reading", "outcome", "ok"); n < 1 {
		t.Fatalf("readings handled after bad input = %v", n)
	}
}

// Slots whose actual read never comes are forgotten after keepDays: an
// estimate is not kept forever for a true-up.
func TestOldSlotsAreForgotten(t *testing.T) {
	kit := riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 0))
	gap := day0.Add(10 * time.Hour)
	sendReading(kit, "MTR-1", gap.Add(-interval))
	sendReading(kit, "MTR-1", gap.Add(interval))
	sendMissed(kit, "MTR-1", gap, gap.Add(-interval), 1)
	kit.Settle()
	kit.Advance(5 * time.Second)
	if n := len(kit.Published(events.TypeMeterReadingEstimated)); n != 1 {
		t.Fatalf("estimates = %d, want 1", n)
	}
	sendReading(kit, "MTR-1", gap.Add(keepDays*24*time.Hour+time.Hour)) // days later
	sendReading(kit, "MTR-1", gap)                                      // the actual read, too late for a true-up
	if n := len(kit.Published(events.TypeMeterReadingAdjusted)); n != 0 {
		t.Fatalf("true-ups = %d, want 0: the slot was forgotten", n)
	}
}

// A calendar month is billed once every day of it was: the sum of its
// days, in UTC. December, whose first 30 days the service never saw, is
// not billed.
func TestMonthIsBilledWhenEveryDayIs(t *testing.T) {
	kit := riverstest.New(t, newService(t, "v1", MethodInterpolation, true, 0))
	jan := day0.Add(24 * time.Hour)
	feb := jan.AddDate(0, 1, 0)
	var months []events.BillingPeriod
	monthly := func() []events.BillingPeriod {
		var out []events.BillingPeriod
		for _, p := range published[events.BillingPeriod](t, kit, events.TypeBillingPeriod) {
			if p.Period == "month" {
				out = append(out, p)
			}
		}
		return out
	}
	for at := day0; !at.After(feb); at = at.Add(interval) {
		sendReading(kit, "MTR-1", at)
		if at.Before(feb) && at.Equal(at.Truncate(24*time.Hour)) { // at each midnight
			if months = monthly(); len(months) != 0 {
				t.Fatalf("a month billed at %s, before its last day was: %+v", at, months)
			}
		}
	}
	months = monthly()
	if len(months) != 1 {
		t.Fatalf("months billed: %+v, want January only", months)
	}
	m := months[0]
	if m.MeterID != "MTR-1" || !m.Start.Equal(jan) || !m.End.Equal(feb) || m.Revision != 0 ||
		m.MeasuredIntervals != 31*96 || m.EstimatedIntervals != 0 || m.EstimatedKWh != 0 ||
		math.Abs(m.TotalKWh-(register(feb)-register(jan))) > 0.001 || math.Abs(m.MeasuredKWh-m.TotalKWh) > 0.001 {
		t.Errorf("January %+v, want %.3f kWh measured in %d intervals", m, register(feb)-register(jan), 31*96)
	}
}
