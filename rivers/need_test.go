package rivers_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// The need/solution tests use the billing estimator's types: a missed read
// makes the asker ask for an estimate; solvers answer with a fixed
// confidence; the asker publishes the best as meter.reading.estimated.v1.

func missedRead(meter string, at time.Time) events.MeterReadingMissed {
	return events.MeterReadingMissed{MeterID: meter, TransformerID: "TX-1", FeederID: "FDR-1",
		ExpectedAt: at, IntervalSeconds: 900, GraceSeconds: 300, ConsecutiveMissed: 1, DetectedAt: at.Add(5 * time.Minute)}
}

var solutionKeys = []string{"meter_id", "expected_at", "method", "energy_kwh_total", "energy_kwh", "confidence"}

// newAsker is a service that asks for an estimate per missed read and
// publishes the decision; decisions also go to the channel.
func newAsker(t *testing.T, cfg rivers.Config, wait time.Duration, enough int) (*rivers.Service, *rivers.Asker[events.EstimateSolution], chan rivers.Decision[events.EstimateSolution]) {
	t.Helper()
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	decisions := make(chan rivers.Decision[events.EstimateSolution], 100)
	asker, err := rivers.NewAsker(svc, rivers.AskerConfig[events.EstimateSolution]{
		Need: events.TypeEstimateNeeded, Solution: events.TypeEstimateSolution,
		River:  rivers.NewRiver(events.TypeEstimateSolution).Interested(solutionKeys...),
		Wait:   wait,
		Enough: enough,
		Better: func(a, b rivers.Solution[events.EstimateSolution]) bool {
			return a.Value.Confidence > b.Value.Confidence
		},
		Decided: func(ctx context.Context, d rivers.Decision[events.EstimateSolution], pub rivers.Publisher) error {
			decisions <- d
			if d.Best == nil {
				return nil
			}
			b := d.Best.Value
			return pub.Publish(ctx, events.TypeMeterReadingEstimated, events.MeterReadingEstimated{
				MeterID: b.MeterID, TransformerID: "TX-1", FeederID: "FDR-1", ReadAt: b.ExpectedAt, IntervalSeconds: 900,
				EnergyKWhTotal: b.EnergyKWhTotal, EnergyKWh: b.EnergyKWh, Method: b.Method, Confidence: b.Confidence,
				NeedID: d.Need.ID, Solver: d.Best.Solver, SolverVersion: d.Best.SolverVersion, Candidates: len(d.Solutions)})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingMissed).Interested("meter_id", "expected_at", "transformer_id", "feeder_id", "interval_s", "grace_s", "consecutive_missed", "detected_at", "last_read_at", "last_energy_kwh_total"),
		func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
			var m events.MeterReadingMissed
			if err := ev.Decode(&m); err != nil {
				return err
			}
			_, err := asker.Ask(ctx, pub, events.ReadingID(m.MeterID, m.ExpectedAt), func(n rivers.NeedMeta) any {
				return events.EstimateNeeded{NeedID: n.ID, Asker: n.Asker, Deadline: n.Deadline, MeterID: m.MeterID,
					TransformerID: m.TransformerID, FeederID: m.FeederID, ExpectedAt: m.ExpectedAt, IntervalSeconds: m.IntervalSeconds}
			})
			return err
		})
	svc.Publishes(events.TypeMeterReadingEstimated)
	return svc, asker, decisions
}

// newSolver answers every estimate need with confidence c and register r.
func newSolver(t *testing.T, cfg rivers.Config, c, r float64) *rivers.Service {
	t.Helper()
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	river := rivers.NewRiver(events.TypeEstimateNeeded).Interested("meter_id", "expected_at")
	rivers.Solve(svc, river, func(ctx context.Context, need rivers.Need, a *rivers.Answerer) error {
		if c < 0 {
			return nil // declines
		}
		meter, err := need.Event.String("meter_id")
		if err != nil {
			return err
		}
		at, err := need.Event.Time("expected_at")
		if err != nil {
			return err
		}
		return a.Answer(ctx, events.TypeEstimateSolution, func(m rivers.SolutionMeta) any {
			return events.EstimateSolution{NeedID: m.NeedID, Asker: m.Asker, Solver: m.Solver, SolverVersion: m.SolverVersion,
				AskedAt: m.AskedAt, MeterID: meter, ExpectedAt: at, Method: "interpolation", EnergyKWhTotal: r, EnergyKWh: 0.25, Confidence: c}
		})
	})
	svc.Publishes(events.TypeEstimateSolution)
	return svc
}

func decode[T any](t *testing.T, e contracts.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("%s: %v", e.Type, err)
	}
	return v
}

// Two versions of a solver answer the same need; the asker takes the more
// confident at the deadline, with both counted as candidates.
func TestNeedBestSolutionWinsAtTheDeadline(t *testing.T) {
	bus, clock := riverstest.NewBus(), riverstest.NewClock(riverstest.Start)
	askSvc, asker, decisions := newAsker(t, testConfig("billing"), 10*time.Second, 0)
	v1cfg, v2cfg := testConfig("estimator"), testConfig("estimator")
	v1cfg.Version, v1cfg.Group, v1cfg.Instance = "1.0.0", "estimator-v1", "e1"
	v2cfg.Version, v2cfg.Group, v2cfg.Instance = "2.0.0", "estimator-v2", "e2"
	v1, v2 := newSolver(t, v1cfg, 0.6, 100), newSolver(t, v2cfg, 0.9, 101)
	ak := riverstest.New(t, askSvc, riverstest.WithBus(bus), riverstest.WithClock(clock))
	k1 := riverstest.New(t, v1, riverstest.WithBus(bus), riverstest.WithClock(clock))
	k2 := riverstest.New(t, v2, riverstest.WithBus(bus), riverstest.WithClock(clock))

	at := riverstest.Start.Add(-time.Hour)
	e := ak.Event(events.TypeMeterReadingMissed, missedRead("MTR-1", at))
	e.PartitionKey = "MTR-1"
	ak.Send(e)
	needs := ak.Published(events.TypeEstimateNeeded)
	if len(needs) != 1 {
		t.Fatalf("needs published = %d, want 1", len(needs))
	}
	n := riverstest.NeedOf(t, needs[0])
	if n.ID != events.ReadingID("MTR-1", at) || n.Asker != "billing" || !n.Deadline.Equal(clock.Now().Add(10*time.Second)) {
		t.Fatalf("need = %+v", n)
	}
	if !needs[0].ExpiryTime.Equal(n.Deadline) {
		t.Fatalf("need use-by %s, want the deadline %s", needs[0].ExpiryTime, n.Deadline)
	}
	k1.Settle()
	k2.Settle()
	ak.Settle()
	if got := ak.Published(events.TypeMeterReadingEstimated); len(got) != 0 {
		t.Fatalf("decided before the deadline: %d estimates", len(got))
	}
	if asker.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", asker.Pending())
	}
	for _, k := range []*riverstest.Kit{k1, k2} {
		sols := k.Published(events.TypeEstimateSolution)
		if len(sols) != 2 { // both share the name, so each kit sees both
			t.Fatalf("solutions = %d, want 2", len(sols))
		}
	}
	sol := k1.Published(events.TypeEstimateSolution)[0]
	if sol.CausationID != n.ID || !sol.ExpiryTime.Equal(n.Deadline) {
		t.Fatalf("solution causation %q expiry %s, want %q and %s", sol.CausationID, sol.ExpiryTime, n.ID, n.Deadline)
	}

	ak.Advance(10 * time.Second)
	est := ak.Published(events.TypeMeterReadingEstimated)
	if len(est) != 1 {
		t.Fatalf("estimates = %d, want 1", len(est))
	}
	got := decode[events.MeterReadingEstimated](t, est[0])
	if got.SolverVersion != "2.0.0" || got.EnergyKWhTotal != 101 || got.Confidence != 0.9 || got.Candidates != 2 || got.NeedID != n.ID {
		t.Fatalf("estimate = %+v, want version 2.0.0's with 2 candidates", got)
	}
	d := <-decisions
	if len(d.Solutions) != 2 || d.Best.Latency() < 0 {
		t.Fatalf("decision = %+v", d)
	}
	if asker.Pending() != 0 {
		t.Fatalf("pending after the deadline = %d", asker.Pending())
	}
	if n := ak.Metric(rivers.MetricNeedsDecided, "outcome", "solved"); n != 1 {
		t.Fatalf("%s{solved} = %v, want 1", rivers.MetricNeedsDecided, n)
	}
	if n := k1.Metric(rivers.MetricNeedsAnswered, "outcome", "answered"); n != 1 {
		t.Fatalf("%s{answered} = %v, want 1", rivers.MetricNeedsAnswered, n)
	}
}

// An asker with Enough decides on the solution that makes it enough;
// solutions after the decision, of needs it never asked, or of another
// asker are counted and ignored; a need nobody answers is decided unsolved
// at its deadline.
func TestAskerCountsLateUnknownAndUnsolved(t *testing.T) {
	svc, _, decisions := newAsker(t, testConfig("billing"), time.Minute, 1)
	kit := riverstest.New(t, svc)
	at := riverstest.Start.Add(-time.Hour)
	kit.Send(kit.Event(events.TypeMeterReadingMissed, missedRead("MTR-1", at)))
	need := kit.Published(events.TypeEstimateNeeded)[0]
	solution := func(need contracts.Event, solver string, c float64) contracts.Event {
		return kit.Solution(need, events.TypeEstimateSolution, solver, "1", func(m rivers.SolutionMeta) any {
			return events.EstimateSolution{NeedID: m.NeedID, Asker: m.Asker, Solver: m.Solver, SolverVersion: m.SolverVersion,
				AskedAt: m.AskedAt, MeterID: "MTR-1", ExpectedAt: at, Method: "profile", EnergyKWhTotal: 5, EnergyKWh: 1, Confidence: c}
		})
	}
	kit.Send(solution(need, "first", 0.2))
	if d := <-decisions; d.Best == nil || d.Best.Solver != "first" {
		t.Fatalf("decision = %+v, want first's", d)
	}
	if est := kit.Published(events.TypeMeterReadingEstimated); len(est) != 1 || est[0].CausationID == need.ID {
		t.Fatalf("estimates = %d (derived from the solution, not the need): %+v", len(est), est)
	}
	kit.Send(solution(need, "second", 0.9)) // after the decision

	foreign := kit.Need(events.TypeEstimateNeeded, time.Minute, func(m rivers.NeedMeta) any {
		return events.EstimateNeeded{NeedID: m.ID, Asker: m.Asker, Deadline: m.Deadline, MeterID: "MTR-2",
			TransformerID: "TX-1", FeederID: "FDR-1", ExpectedAt: at, IntervalSeconds: 900}
	})
	kit.Send(solution(foreign, "third", 0.5))

	if n := kit.Metric(rivers.MetricSolutions, "outcome", "late"); n != 1 {
		t.Errorf("late = %v, want 1", n)
	}
	if n := kit.Metric(rivers.MetricSolutions, "outcome", "unknown"); n != 1 {
		t.Errorf("unknown = %v, want 1", n)
	}
	if est := kit.Published(events.TypeMeterReadingEstimated); len(est) != 1 {
		t.Fatalf("estimates = %d, want still 1", len(est))
	}

	kit.Send(kit.Event(events.TypeMeterReadingMissed, missedRead("MTR-3", at)))
	kit.Advance(time.Minute)
	d := <-decisions
	if d.Best != nil || len(d.Solutions) != 0 || d.Need.ID != events.ReadingID("MTR-3", at) {
		t.Fatalf("decision = %+v, want MTR-3 unsolved", d)
	}
	if n := kit.Metric(rivers.MetricNeedsDecided, "outcome", "unsolved"); n != 1 {
		t.Errorf("unsolved = %v, want 1", n)
	}
}

// A solver answers with the need's identity and its own; declines count;
// a need whose deadline passed is not answered; a need whose need_id is
// not its ce_id is dead-lettered.
func TestSolverAnswersDeclinesAndDropsLateNeeds(t *testing.T) {
	cfg := testConfig("estimator")
	kit := riverstest.New(t, newSolver(t, cfg, 0.7, 42))
	at := riverstest.Start.Add(-time.Hour)
	build := func(m rivers.NeedMeta) any {
		return events.EstimateNeeded{NeedID: m.ID, Asker: m.Asker, Deadline: m.Deadline, MeterID: "MTR-1",
			TransformerID: "TX-1", FeederID: "FDR-1", ExpectedAt: at, IntervalSeconds: 900}
	}
	need := kit.Need(events.TypeEstimateNeeded, 5*time.Second, build)
	kit.Send(need)
	sols := kit.Published(events.TypeEstimateSolution)
	if len(sols) != 1 {
		t.Fatalf("solutions = %d, want 1", len(sols))
	}
	s := decode[events.EstimateSolution](t, sols[0])
	if s.NeedID != need.ID || s.Asker != riverstest.Asker || s.Solver != "estimator" || s.SolverVersion != "1.2.3" ||
		!s.AskedAt.Equal(need.Time) || s.EnergyKWhTotal != 42 || sols[0].CausationID != need.ID {
		t.Fatalf("solution = %+v (causation %s), want the need's identity and the solver's", s, sols[0].CausationID)
	}

	late := kit.Need(events.TypeEstimateNeeded, time.Second, build)
	late.ExpiryTime = late.Time.Add(time.Hour) // readable, but past its deadline when read
	kit.Advance(2 * time.Second)
	kit.Send(late)
	if n := kit.Metric(rivers.MetricNeedsAnswered, "outcome", "late"); n != 1 {
		t.Errorf("late = %v, want 1", n)
	}

	bad := kit.Need(events.TypeEstimateNeeded, time.Minute, build)
	bad.ID = contracts.NewID() // need_id no longer its ce_id
	kit.Send(bad)
	dl := kit.DeadLetters()
	if len(dl) != 1 || dl[0].Class != rivers.ClassPermanent {
		t.Fatalf("dead letters = %+v, want one permanent", dl)
	}
	if got := len(kit.Published(events.TypeEstimateSolution)); got != 1 {
		t.Fatalf("solutions = %d, want still 1", got)
	}

	decliner := riverstest.New(t, newSolver(t, testConfig("decliner"), -1, 0))
	decliner.Send(decliner.Need(events.TypeEstimateNeeded, time.Minute, build))
	if n := decliner.Metric(rivers.MetricNeedsAnswered, "outcome", "declined"); n != 1 {
		t.Errorf("declined = %v, want 1", n)
	}
}

// The same exchange over Kafka: a missed read in, a need, two solvers'
// solutions, the best one's estimate out.
func TestKafkaNeedSolution(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			acfg := testConfig("billing")
			acfg.Kafka = k.Kafka
			askSvc, _, _ := newAsker(t, acfg, time.Minute, 2)
			var solvers []*rivers.Service
			for i, c := range []float64{0.4, 0.8} {
				cfg := testConfig("estimator")
				cfg.Kafka = k.Kafka
				cfg.Version = []string{"1.0.0", "2.0.0"}[i]
				cfg.Group = "estimator-" + cfg.Version
				cfg.Instance = "estimator-" + cfg.Version
				solvers = append(solvers, newSolver(t, cfg, c, float64(10+i)))
			}
			riverstest.ServeKafka(t, askSvc, k.Kafka)
			for _, s := range solvers {
				riverstest.ServeKafka(t, s, k.Kafka)
			}
			at := time.Now().UTC().Truncate(15 * time.Minute)
			e, err := contracts.New(riverstest.Source, events.TypeMeterReadingMissed, missedRead("MTR-9", at))
			if err != nil {
				t.Fatal(err)
			}
			e.PartitionKey = "MTR-9"
			e.ExpiryTime = time.Now().Add(time.Hour)
			riverstest.Produce(t, k.Kafka, record(t, k.Kafka.Topics.Rivers, e))
			recs := riverstest.Consume(t, k.Kafka, k.Kafka.Topics.Rivers, riverstest.Count(events.TypeMeterReadingEstimated, 1), 60*time.Second)
			var est []events.MeterReadingEstimated
			for _, r := range recs {
				ev, err := contracts.DecodeBinary(r.Message())
				if err != nil || ev.Type != events.TypeMeterReadingEstimated {
					continue
				}
				est = append(est, decode[events.MeterReadingEstimated](t, ev))
			}
			if len(est) != 1 || est[0].SolverVersion != "2.0.0" || est[0].Candidates != 2 || est[0].EnergyKWhTotal != 11 {
				t.Fatalf("estimates = %+v, want version 2.0.0's of 2 candidates", est)
			}
		})
	}
}

// A decision that fails at the deadline does not cost the others their
// publications: it is decided again at the next tick; a permanent failure
// is dropped and counted.
func TestAskerDecisionFailuresStandAlone(t *testing.T) {
	svc, err := rivers.NewService(testConfig("billing"))
	if err != nil {
		t.Fatal(err)
	}
	fail := map[string]error{}
	asker, err := rivers.NewAsker(svc, rivers.AskerConfig[events.EstimateSolution]{
		Need: events.TypeEstimateNeeded, Solution: events.TypeEstimateSolution,
		River: rivers.NewRiver(events.TypeEstimateSolution).Interested(solutionKeys...),
		Wait:  time.Second,
		Decided: func(ctx context.Context, d rivers.Decision[events.EstimateSolution], pub rivers.Publisher) error {
			if err := fail[d.Need.ID]; err != nil {
				delete(fail, d.Need.ID) // fails once
				return err
			}
			return pub.Publish(ctx, events.TypeMeterReadingEstimated, events.MeterReadingEstimated{
				MeterID: d.Need.ID, TransformerID: "TX-1", FeederID: "FDR-1", ReadAt: riverstest.Start, IntervalSeconds: 900,
				Method: "profile", NeedID: d.Need.ID, Solver: "-", SolverVersion: "-", Candidates: 1})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.Publishes(events.TypeMeterReadingEstimated)
	ask := func(id string) func(ctx context.Context, now time.Time, pub rivers.Publisher) error {
		return func(ctx context.Context, now time.Time, pub rivers.Publisher) error {
			_, err := asker.Ask(ctx, pub, id, func(n rivers.NeedMeta) any {
				return events.EstimateNeeded{NeedID: n.ID, Asker: n.Asker, Deadline: n.Deadline, MeterID: id,
					TransformerID: "TX-1", FeederID: "FDR-1", ExpectedAt: riverstest.Start, IntervalSeconds: 900}
			})
			return err
		}
	}
	for _, id := range []string{"ok", "transient", "permanent"} {
		svc.After(0, "ask "+id, ask(id))
	}
	fail["transient"] = errors.New("broker hiccup")
	fail["permanent"] = rivers.Permanent(errors.New("bug"))
	kit := riverstest.New(t, svc)
	kit.Advance(time.Second) // the deadline: ok decided, transient fails, permanent dropped
	ids := func() []string {
		var out []string
		for _, e := range kit.Published(events.TypeMeterReadingEstimated) {
			out = append(out, decode[events.MeterReadingEstimated](t, e).NeedID)
		}
		return out
	}
	if got := ids(); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("estimates after the deadline = %v, want [ok]", got)
	}
	kit.Advance(100 * time.Millisecond) // the next tick
	if got := ids(); len(got) != 2 || got[1] != "transient" {
		t.Fatalf("estimates after the next tick = %v, want [ok transient]", got)
	}
	if n := kit.Metric(rivers.MetricNeedsDecided, "outcome", "failed"); n != 1 {
		t.Errorf("failed = %v, want 1", n)
	}
	if asker.Pending() != 0 {
		t.Errorf("pending = %d, want 0", asker.Pending())
	}
}
