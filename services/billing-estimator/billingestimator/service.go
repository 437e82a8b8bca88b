package billingestimator

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the service's name: its ce_source, consumer group and metrics'
// service.name.
const Name = "billing-estimator"

// MetricSlots counts missed reads by what became of them: recovered (the
// actual read came before an estimate), estimated, trued_up (the actual read
// came after the estimate), unsolved (no answer before a deadline; asked
// again on the meter's next news).
const MetricSlots = "billing_estimator_missed_reads_total"

// keepReads is how many recent actual reads the asker keeps per meter to
// find the reads around a gap (a day at 15 minutes: the gap detector
// reports a missed read within its grace, GAP_GRACE, 30m by default).
const keepReads = 96

// keepDays is how many billing days per meter stay open for corrections.
const keepDays = 3

// Register adds billing-estimator's rivers, handlers and timers to svc:
// every instance answers estimate needs with its method; the asker also
// turns missed reads into needs and publishes estimates, true-ups and
// billing periods.
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	s := &service{svc: svc, cfg: cfg, log: svc.Logger(), estimate: Estimators[cfg.Method],
		meters: map[string]*meter{}, profiles: map[string]*solverMeter{}, needs: map[string]slotRef{},
		rapids: svc.Config().Kafka.Topics.Rapids, rivers: svc.Config().Kafka.Topics.Rivers,
		gate: gate{behind: map[int]bool{}, recheck: map[string]bool{}}}
	c, err := svc.Meter().Int64Counter("billing_estimator.missed_reads", metric.WithDescription("Missed reads by outcome: recovered, estimated, trued_up, unsolved."))
	if err != nil {
		return err
	}
	s.slotsCounter = c

	// Every instance: the readings feed its profiles (and the asker's
	// state), and it answers needs with its method.
	rivers.HandleBatch(svc, rivers.NewRiver(events.TypeMeterReading).
		Named("meter-reading").
		OnTopic(rivers.Rapids).
		Require("meter_id", "transformer_id", "feeder_id", "read_at", "interval_s", "energy_kwh_total", "demand_kw", "voltage_v").
		Interested("flags"),
		s.readings)
	svc.Publishes(events.TypeEstimateSolution)
	var mws []rivers.Middleware
	if *cfg.Ask {
		mws = append(mws, s.ownNeed)
	}
	rivers.Solve(svc, rivers.NewRiver(events.TypeEstimateNeeded).
		Named("estimate-needed").
		Require("meter_id", "expected_at", "interval_s").
		Interested("transformer_id", "feeder_id", "gap_intervals", "before_read_at", "before_energy_kwh_total", "after_read_at", "after_energy_kwh_total"),
		s.solve, mws...)
	// The state is rebuilt by replaying the partitions' history when the
	// group assigns them (at every start): a solver's profiles from the
	// readings; the asker's also from the rivers, where its missed reads
	// and its own past needs, estimates, true-ups and billing periods are.
	history := max(cfg.History, 0) // negative: everything retained
	if !*cfg.Ask {
		svc.KeepPartitionState(rivers.PartitionState{Topics: []rivers.Topic{rivers.Rapids}, History: history,
			Assigned: s.assigned, Revoked: s.revoked})
		return nil
	}
	svc.KeepPartitionState(rivers.PartitionState{Topics: []rivers.Topic{rivers.Rapids, rivers.Rivers}, History: history,
		Assigned: s.assigned, Revoked: s.revoked})
	asker, err := rivers.NewAsker(svc, rivers.AskerConfig[events.EstimateSolution]{
		Need: events.TypeEstimateNeeded, Solution: events.TypeEstimateSolution,
		River: rivers.NewRiver(events.TypeEstimateSolution).Named("estimate-solution").
			Require("meter_id", "expected_at", "method", "energy_kwh_total", "energy_kwh", "confidence"),
		Wait:    cfg.Deadline,
		Enough:  cfg.Expect,
		Better:  better,
		Decided: s.decided,
	})
	if err != nil {
		return err
	}
	s.asker = asker
	svc.Publishes(events.TypeMeterReadingEstimated, events.TypeMeterReadingAdjusted, events.TypeBillingPeriod)
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingMissed).
		Named("meter-reading-missed").
		Require("meter_id", "transformer_id", "feeder_id", "expected_at", "interval_s", "grace_s", "consecutive_missed", "detected_at").
		Interested("last_energy_kwh_total", "last_read_at"),
		s.missed)
	// Its own outputs tell the asker, on replay, what it already concluded
	// and at which revision; live, they are echoes it already knows. The
	// rivers are passive: they create no demand.
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingEstimated).Named("own-estimated").Passive().
		Require("meter_id", "read_at", "interval_s", "energy_kwh_total").
		Interested("transformer_id", "feeder_id", "energy_kwh", "method", "confidence", "need_id", "solver", "solver_version", "candidates"),
		s.ownEstimated)
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingAdjusted).Named("own-adjusted").Passive().
		Require("meter_id", "read_at", "estimated_energy_kwh_total", "actual_energy_kwh_total").
		Interested("delta_kwh", "method", "need_id", "solver", "solver_version"),
		s.ownAdjusted)
	svc.Handle(rivers.NewRiver(events.TypeBillingPeriod).Named("own-billing-period").Passive().
		Require("meter_id", "period", "start", "end", "total_kwh", "measured_kwh", "estimated_kwh", "measured_intervals", "estimated_intervals", "revision"),
		s.ownPeriod)
	svc.Every(max(cfg.Deadline/5, 100*time.Millisecond), "catch-up", s.catchUp)
	return nil
}

// better is the asker's rule: the higher confidence, then the earlier
// answer (the collection order keeps the earlier on a tie).
func better(a, b rivers.Solution[events.EstimateSolution]) bool {
	return a.Value.Confidence > b.Value.Confidence
}

type service struct {
	svc          *rivers.Service
	cfg          Config
	log          *slog.Logger
	estimate     Estimator
	asker        *rivers.Asker[events.EstimateSolution]
	slotsCounter metric.Int64Counter

	rapids, rivers string // the topics' names, as deliveries and partitions name them

	mu       sync.Mutex
	meters   map[string]*meter       // asker state
	profiles map[string]*solverMeter // solver state
	needs    map[string]slotRef      // need id → its slot
	gate                             // the asker's catching up after a replay
	// replaying is set while the readings handler handles a replayed
	// record: the batch's context does not tell.
	replaying bool
}

// solverMeter is what a solver keeps per meter.
type solverMeter struct {
	profile Profile
	last    Read
	part    int // rapids partition
}

// meter is what the asker keeps per meter.
type meter struct {
	id, transformer, feeder string
	interval                time.Duration
	reads                   []Read // recent actual reads, by time
	slots                   map[time.Time]*slot
	lastSilent              time.Time // latest expected_at the gap detector reported missing
	days                    map[time.Time]*day
	months                  map[time.Time]*month
	monthRef                time.Time // the latest period start seen by monthOf
	parts                   [2]int    // rapids and rivers partitions; -1 unknown
}

type slotState int

const (
	held      slotState = iota // waiting for the read after the gap, or for Hold
	asked                      // a need is out
	estimated                  // published; waiting for a true-up
	done                       // the actual read came: recovered, or trued up when est is set
)

type slot struct {
	at      time.Time
	state   slotState
	attempt int // of the next need; above every need id asked for it
	needID  string
	est     *events.MeterReadingEstimated // the estimate published
	actual  float64                       // the actual read, once done
	trued   bool                          // its true-up published
	last    *Read                         // the gap detector's last read before the gap, when given
}

type slotRef struct {
	meter string
	at    time.Time
}

// count counts a slot's outcome; replayed records were counted when first
// handled.
func (s *service) count(ctx context.Context, outcome string) {
	if s.replay(ctx) {
		return
	}
	s.slotsCounter.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}

// readings handles a run of meter.reading.v1.
func (s *service) readings(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.replaying = false }()
	for i := range b.Len() {
		r, d := b.Value(i), b.Delivery(i)
		// a batch's context does not say it is replayed; its records do
		s.replaying = d.Replay
		if r.IntervalSeconds <= 0 {
			continue
		}
		read := Read{At: r.ReadAt.UTC(), KWh: r.EnergyKWhTotal}
		interval := time.Duration(r.IntervalSeconds) * time.Second
		s.observe(r.MeterID, read, interval, d.Partition)
		if s.asker == nil {
			continue
		}
		if err := s.actual(ctx, b.Publisher(i), d, r, read, interval); err != nil {
			return &rivers.BatchError{Index: i, Err: err}
		}
	}
	return nil
}

// observe feeds a solver's profile with the energy since the meter's
// previous read, when it is the read just before.
func (s *service) observe(id string, r Read, interval time.Duration, part int) {
	sm := s.profiles[id]
	if sm == nil {
		sm = &solverMeter{}
		s.profiles[id] = sm
	}
	sm.part = part
	if !sm.last.At.IsZero() && r.At.Sub(sm.last.At) == interval && r.KWh >= sm.last.KWh {
		sm.profile.Observe(sm.last.At, r.At, r.KWh-sm.last.KWh)
	}
	if r.At.After(sm.last.At) {
		sm.last = r
	}
}

// meterOf returns the asker's meter, noting the partition d read it from.
func (s *service) meterOf(id string, d rivers.Delivery) *meter {
	m := s.meters[id]
	if m == nil {
		m = &meter{id: id, slots: map[time.Time]*slot{}, days: map[time.Time]*day{}, parts: [2]int{-1, -1}}
		s.meters[id] = m
	}
	switch d.Topic {
	case s.rapids:
		m.parts[0] = d.Partition
	case s.rivers:
		m.parts[1] = d.Partition
	}
	return m
}

func (m *meter) describe(tx, fdr string, interval time.Duration) {
	if tx != "" {
		m.transformer, m.feeder = tx, fdr
	}
	if interval > 0 {
		m.interval = interval
	}
}

// addRead keeps r among the meter's recent reads; false if it was known.
func (m *meter) addRead(r Read) bool {
	i, found := slices.BinarySearchFunc(m.reads, r.At, func(a Read, t time.Time) int { return a.At.Compare(t) })
	if found {
		return false
	}
	m.reads = slices.Insert(m.reads, i, r)
	if len(m.reads) > keepReads {
		m.reads = slices.Delete(m.reads, 0, len(m.reads)-keepReads)
	}
	return true
}

// newest is the time of the meter's newest actual read.
func (m *meter) newest() time.Time {
	if len(m.reads) == 0 {
		return time.Time{}
	}
	return m.reads[len(m.reads)-1].At
}

// actualAt returns the actual read at t when the asker knows it: among the
// recent reads, in an open billing day, or in its slot. Replayed records
// of the two topics come in any order, so "has the read come?" must be
// answered over all the state kept, not the recent reads only.
func (m *meter) actualAt(t time.Time) (float64, bool) {
	if i, found := slices.BinarySearchFunc(m.reads, t, func(a Read, t time.Time) int { return a.At.Compare(t) }); found {
		return m.reads[i].KWh, true
	}
	if sl := m.slots[t]; sl != nil && sl.state == done {
		return sl.actual, true
	}
	if m.interval > 0 {
		for ds, d := range m.days {
			if k := t.Sub(ds); k >= 0 && k%m.interval == 0 && int(k/m.interval) < len(d.kind) && d.kind[k/m.interval] == actualValue {
				return d.reg[k/m.interval], true
			}
		}
	}
	return 0, false
}

// tooOld reports whether a slot at t is past its true-up horizon: more
// than keepDays before the meter's newest read (prune forgets such slots).
func (m *meter) tooOld(t time.Time) bool {
	return m.newest().Sub(t) > keepDays*24*time.Hour
}

// around returns the last actual read before t and the first after it.
func (m *meter) around(t time.Time) (before *Read, after *Read) {
	i, _ := slices.BinarySearchFunc(m.reads, t, func(a Read, t time.Time) int { return a.At.Compare(t) })
	if i > 0 {
		before = &m.reads[i-1]
	}
	j := i
	if j < len(m.reads) && m.reads[j].At.Equal(t) {
		j++
	}
	if j < len(m.reads) {
		after = &m.reads[j]
	}
	return before, after
}

// actual handles an actual read on the asker: it recovers or trues up its
// slot, brackets the gaps before it and fills its billing days.
func (s *service) actual(ctx context.Context, pub rivers.Publisher, d rivers.Delivery, r *events.MeterReading, read Read, interval time.Duration) error {
	m := s.meterOf(r.MeterID, d)
	m.describe(r.TransformerID, r.FeederID, interval)
	if !m.addRead(read) {
		// Known already: a redelivery, or the read a missed event named as
		// its last_read_at, handled first. Its register still bounds
		// billing days (idempotent: an unchanged day is not published again).
		return s.setRegister(ctx, pub, m, read.At, read.KWh, false)
	}
	if sl := m.slots[read.At]; sl != nil {
		switch sl.state {
		case held, asked:
			delete(s.needs, sl.needID)
			sl.state, sl.actual = done, read.KWh
			s.count(ctx, "recovered")
		case estimated:
			sl.state, sl.actual = done, read.KWh
			if err := s.trueUp(ctx, pub, m, sl); err != nil {
				return err
			}
		}
	}
	if err := s.setRegister(ctx, pub, m, read.At, read.KWh, false); err != nil {
		return err
	}
	s.prune(m, read.At)
	// gaps before this read are now bracketed
	return s.askHeld(ctx, pub, m, func(sl *slot) bool { return sl.at.Before(read.At) })
}

// trueUp publishes the true-up of an estimated slot whose actual read came.
// Its id derives from the meter and the read's time: the echo of the
// estimate after a restart, or a redelivered read, repeat the same event.
func (s *service) trueUp(ctx context.Context, pub rivers.Publisher, m *meter, sl *slot) error {
	if sl.trued || sl.est == nil {
		return nil
	}
	adj := events.MeterReadingAdjusted{
		MeterID: m.id, ReadAt: sl.at, EstimatedEnergyKWhTotal: sl.est.EnergyKWhTotal, ActualEnergyKWhTotal: sl.actual,
		DeltaKWh: round3(sl.actual - sl.est.EnergyKWhTotal), Method: sl.est.Method, NeedID: sl.est.NeedID,
		Solver: sl.est.Solver, SolverVersion: sl.est.SolverVersion,
	}
	id := events.ReadingID(m.id+"\nmeter.reading.adjusted", sl.at)
	if err := publish(ctx, pub, events.TypeMeterReadingAdjusted, contracts.Identified{ID: id, Data: adj}); err != nil {
		return err
	}
	sl.trued = true
	s.count(ctx, "trued_up")
	return nil
}

// askHeld asks the held slots that which selects, in time order, or, while
// the asker catches up (a replay, or the rivers' backlog after it), leaves
// them for catchUp to judge.
func (s *service) askHeld(ctx context.Context, pub rivers.Publisher, m *meter, which func(*slot) bool) error {
	if s.gated(ctx) {
		s.recheck[m.id] = true
		return nil
	}
	for _, sl := range m.sortedSlots() {
		if sl.state == held && which(sl) {
			if err := s.ask(ctx, pub, m, sl); err != nil {
				return err
			}
		}
	}
	return nil
}

// askable reports whether a held slot is asked now: bracketed by a read
// after it, or the meter reported silent Hold after it.
func (s *service) askable(m *meter, sl *slot) bool {
	_, after := m.around(sl.at)
	return after != nil || !sl.at.After(m.lastSilent.Add(-s.cfg.Hold))
}

// prune forgets the slots more than keepDays before t: their true-up (or
// their meter's return) is not coming, and their billing days are closed.
func (s *service) prune(m *meter, t time.Time) {
	for at, sl := range m.slots {
		if t.Sub(at) > keepDays*24*time.Hour {
			delete(m.slots, at)
			delete(s.needs, sl.needID)
		}
	}
}

func (m *meter) sortedSlots() []*slot {
	out := make([]*slot, 0, len(m.slots))
	for _, sl := range m.slots {
		out = append(out, sl)
	}
	slices.SortFunc(out, func(a, b *slot) int { return a.at.Compare(b.at) })
	return out
}

// missed handles one meter.reading.missed.v1 on the asker.
func (s *service) missed(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	var in events.MeterReadingMissed
	if err := ev.Decode(&in); err != nil {
		return err
	}
	if in.IntervalSeconds <= 0 {
		return rivers.Permanent(errInterval)
	}
	at := in.ExpectedAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.arrived(ctx, pub); err != nil {
		return err
	}
	m := s.meterOf(in.MeterID, deliveryOf(ctx))
	m.describe(in.TransformerID, in.FeederID, time.Duration(in.IntervalSeconds)*time.Second)
	var last *Read
	if !in.LastReadAt.IsZero() && in.LastEnergyKWhTotal != nil && in.LastReadAt.Before(at) {
		last = &Read{At: in.LastReadAt.UTC(), KWh: *in.LastEnergyKWhTotal}
		m.addRead(*last)
	}
	if at.After(m.lastSilent) {
		m.lastSilent = at
	}
	if _, ok := m.actualAt(at); ok {
		s.count(ctx, "recovered") // the read came after all
		return nil
	}
	if m.slots[at] == nil && !m.tooOld(at) {
		m.slots[at] = &slot{at: at, last: last}
	}
	return s.askHeld(ctx, pub, m, func(sl *slot) bool { return s.askable(m, sl) })
}

// ask publishes the need of a held slot, with the reads around it.
func (s *service) ask(ctx context.Context, pub rivers.Publisher, m *meter, sl *slot) error {
	before, after := m.around(sl.at)
	if before == nil || (sl.last != nil && sl.last.At.After(before.At)) {
		before = sl.last // older than the reads kept
	}
	if before == nil {
		return nil // the meter never reported before: nothing to estimate from
	}
	need := events.EstimateNeeded{MeterID: m.id, TransformerID: m.transformer, FeederID: m.feeder, ExpectedAt: sl.at,
		IntervalSeconds: int(m.interval / time.Second), BeforeReadAt: before.At, BeforeEnergyKWhTotal: ptr(before.KWh)}
	g := Gap{Interval: m.interval, At: sl.at, Before: *before}
	if after != nil {
		need.AfterReadAt, need.AfterEnergyKWhTotal = after.At, ptr(after.KWh)
		g.After = &Read{At: after.At, KWh: after.KWh}
	}
	need.GapIntervals = g.Missing() + 1
	if after == nil {
		need.GapIntervals = g.Missing()
	}
	// a stable id per attempt: a retried handler asks the same need; an
	// unsolved need, or one open when the asker restarted, is asked again
	// under a new one (solvers de-duplicate on the id)
	id := needID(m.id, sl.at, sl.attempt)
	if _, err := s.asker.Ask(ctx, pub, id, func(n rivers.NeedMeta) any {
		need.NeedID, need.Asker, need.Deadline = n.ID, n.Asker, n.Deadline
		return need
	}); err != nil {
		return err
	}
	sl.state, sl.needID = asked, id
	s.needs[id] = slotRef{meter: m.id, at: sl.at}
	return nil
}

// needID is the id of a slot's need at an attempt.
func needID(meter string, at time.Time, attempt int) string {
	return events.ReadingID(meter+"\nestimate.needed\n"+itoa(attempt), at)
}

// decided publishes the best answer to a need as the estimate.
func (s *service) decided(ctx context.Context, d rivers.Decision[events.EstimateSolution], pub rivers.Publisher) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.needs[d.Need.ID]
	if !ok {
		return nil // recovered meanwhile
	}
	m := s.meters[ref.meter]
	sl := m.slots[ref.at]
	if sl == nil || sl.state != asked || sl.needID != d.Need.ID {
		delete(s.needs, d.Need.ID)
		return nil
	}
	if d.Best == nil {
		sl.state = held
		sl.attempt++
		delete(s.needs, d.Need.ID)
		s.count(ctx, "unsolved")
		return nil
	}
	b := d.Best.Value
	est := events.MeterReadingEstimated{MeterID: m.id, TransformerID: m.transformer, FeederID: m.feeder, ReadAt: sl.at,
		IntervalSeconds: int(m.interval / time.Second), EnergyKWhTotal: b.EnergyKWhTotal, EnergyKWh: b.EnergyKWh,
		Method: b.Method, Confidence: b.Confidence, NeedID: d.Need.ID, Solver: d.Best.Solver,
		SolverVersion: d.Best.SolverVersion, Candidates: len(d.Solutions)}
	id := events.ReadingID(m.id+"\nmeter.reading.estimated", sl.at)
	if err := publish(ctx, pub, events.TypeMeterReadingEstimated, contracts.Identified{ID: id, Data: est}); err != nil {
		return err
	}
	if err := s.setRegister(ctx, pub, m, sl.at, b.EnergyKWhTotal, true); err != nil {
		return err
	}
	sl.state, sl.est = estimated, &est
	delete(s.needs, d.Need.ID)
	s.count(ctx, "estimated")
	return nil
}

// solve answers one need with this instance's method.
func (s *service) solve(ctx context.Context, need rivers.Need, a *rivers.Answerer) error {
	var n events.EstimateNeeded
	if err := need.Event.Decode(&n); err != nil {
		return err
	}
	if n.BeforeEnergyKWhTotal == nil || n.BeforeReadAt.IsZero() || n.IntervalSeconds <= 0 {
		return nil // nothing to estimate from: decline
	}
	g := Gap{Interval: time.Duration(n.IntervalSeconds) * time.Second, At: n.ExpectedAt.UTC(),
		Before: Read{At: n.BeforeReadAt.UTC(), KWh: *n.BeforeEnergyKWhTotal}}
	if n.AfterEnergyKWhTotal != nil && !n.AfterReadAt.IsZero() {
		g.After = &Read{At: n.AfterReadAt.UTC(), KWh: *n.AfterEnergyKWhTotal}
	}
	s.mu.Lock()
	var p *Profile
	if sm := s.profiles[n.MeterID]; sm != nil {
		cp := sm.profile
		p = &cp
	}
	s.mu.Unlock()
	est, ok := s.estimate(g, p)
	if !ok {
		return nil // declines
	}
	return a.Answer(ctx, events.TypeEstimateSolution, func(m rivers.SolutionMeta) any {
		return events.EstimateSolution{NeedID: m.NeedID, Asker: m.Asker, Solver: m.Solver, SolverVersion: m.SolverVersion,
			AskedAt: m.AskedAt, MeterID: n.MeterID, ExpectedAt: g.At, Method: est.Method,
			EnergyKWhTotal: est.RegisterKWh, EnergyKWh: est.EnergyKWh, Confidence: est.Confidence}
	})
}

func ptr[T any](v T) *T { return &v }
