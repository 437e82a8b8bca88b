package billingestimator

import (
	"context"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Restarts. The asker's state is a function of facts on its partitions:
// readings (rapids); missed reads and its own needs, estimates, true-ups and
// billing periods (rivers). The SDK replays their history on assignment;
// the two topics' records come in any relative order, so every handler
// gives the same state in any cross-topic order (a topic's own records keep
// their order), and handling a fact twice changes nothing.
//
// Its own outputs published just before a stop may not have been read back
// (committed) yet: they come live after the replay. Until it has read each
// replayed rivers partition to its end, the asker neither asks nor
// publishes billing periods — it could ask again for a slot estimated, or
// publish a revision already published with other figures — and release
// does what was held once it has.

// gate is the asker's catching up after a replay (under service.mu).
type gate struct {
	// behind holds the rivers partitions with history replayed whose live
	// backlog has not been read to its end yet.
	behind map[int]bool
	// since is when catchUp first saw the replays done with a partition
	// still behind (zero: not yet).
	since time.Time
	// recheck holds the meters with held slots or billing days left for
	// catchUp.
	recheck map[string]bool
}

// deliveryOf returns ctx's delivery (zero for none).
func deliveryOf(ctx context.Context) rivers.Delivery {
	d, _ := rivers.DeliveryFrom(ctx)
	return d
}

// gated reports whether the asker holds its asks and billing periods: the
// record is replayed, or a rivers partition is still behind.
func (s *service) gated(ctx context.Context) bool {
	return s.replay(ctx) || len(s.behind) > 0
}

// replay reports whether the record being handled is replayed.
func (s *service) replay(ctx context.Context) bool {
	return s.replaying || deliveryOf(ctx).Replay
}

// arrived notes a rivers record the asker handles: a replayed one puts its
// partition behind; a live one read at the end of its partition catches it
// up, and the last partition to catch up releases what was held.
func (s *service) arrived(ctx context.Context, pub rivers.Publisher) error {
	d := deliveryOf(ctx)
	if d.Topic != s.rivers {
		return nil
	}
	if d.Replay {
		s.behind[d.Partition] = true
		s.since = time.Time{}
		return nil
	}
	if !s.behind[d.Partition] || d.Behind > 0 {
		return nil
	}
	delete(s.behind, d.Partition)
	if len(s.behind) > 0 {
		return nil
	}
	return s.release(ctx, pub)
}

// catchUp is the asker's timer: once the replays are done, a rivers
// partition still behind is caught up when the service has handled every
// record the broker held at its last end check (Service.Unread); on a
// transport that cannot tell, ESTIMATOR_DEADLINE after the replay, and in
// any case after ten, the asker resumes anyway (logged).
func (s *service) catchUp(ctx context.Context, now time.Time, pub rivers.Publisher) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	known := true
	for p := range s.behind {
		n, ok := s.svc.Unread(s.rivers, p)
		switch {
		case ok && n == 0:
			delete(s.behind, p)
		case !ok:
			known = false
		}
	}
	if len(s.behind) == 0 {
		return s.release(ctx, pub) // also what a timer-decided estimate left, if anything
	}
	if s.since.IsZero() {
		s.since = now
		return nil
	}
	wait := s.cfg.Deadline
	if known {
		wait = 10 * s.cfg.Deadline
	}
	if now.Sub(s.since) < wait {
		return nil
	}
	s.log.Warn("the rivers partitions replayed are not read to their end; resuming", "partitions", len(s.behind), "after", wait)
	clear(s.behind)
	return s.release(ctx, pub)
}

// release asks the held slots that are due and publishes the billing days
// changed while the asker caught up.
func (s *service) release(ctx context.Context, pub rivers.Publisher) error {
	for id := range s.recheck {
		m := s.meters[id]
		delete(s.recheck, id)
		if m == nil {
			continue
		}
		for _, ds := range sortedDays(m) {
			if d := m.days[ds]; d.dirty {
				d.dirty = false
				if err := s.publishDay(ctx, pub, m, d); err != nil {
					s.recheck[id] = true
					return err
				}
			}
		}
		for _, sl := range m.sortedSlots() {
			if sl.state == held && s.askable(m, sl) {
				if err := s.ask(ctx, pub, m, sl); err != nil {
					s.recheck[id] = true
					return err
				}
			}
		}
	}
	return nil
}

// assigned is called before a partition's replay. The profiles of a
// rapids partition are dropped: a profile counts every read it is fed. A
// rivers partition starts caught up: only a replayed record puts it behind.
// The asker's meters stay: replaying a fact again changes nothing.
func (s *service) assigned(tp rivers.TopicPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch tp.Topic {
	case s.rapids:
		s.dropProfiles(tp.Partition)
	case s.rivers:
		delete(s.behind, tp.Partition)
	}
}

func (s *service) dropProfiles(part int) {
	for id, sm := range s.profiles {
		if sm.part == part {
			delete(s.profiles, id)
		}
	}
}

// revoked drops the state of the meters of a partition given away.
func (s *service) revoked(tp rivers.TopicPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	switch tp.Topic {
	case s.rapids:
		s.dropProfiles(tp.Partition)
	case s.rivers:
		i = 1
		delete(s.behind, tp.Partition)
	default:
		return
	}
	for id, m := range s.meters {
		if m.parts[i] != tp.Partition {
			continue
		}
		for _, sl := range m.slots {
			delete(s.needs, sl.needID)
		}
		delete(s.meters, id)
		delete(s.recheck, id)
	}
}

// ownNeed wraps the solver of the asker's instance: its own needs, replayed
// or echoed, tell which need ids a slot has used, so a need open at a
// restart is asked again under a new id. A replayed need is not solved.
func (s *service) ownNeed(next rivers.Handler) rivers.Handler {
	return func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
		asker, _ := ev.String(rivers.KeyAsker)
		meter, err1 := ev.String("meter_id")
		at, err2 := ev.Time("expected_at")
		replay := deliveryOf(ctx).Replay
		if asker == Name && err1 == nil && err2 == nil {
			s.mu.Lock()
			err := s.arrived(ctx, pub)
			if m := s.meters[meter]; m != nil {
				if sl := m.slots[at.UTC()]; sl != nil && ev.ID() != sl.needID {
					for a := sl.attempt; a < sl.attempt+maxAttempts; a++ {
						if needID(meter, sl.at, a) == ev.ID() {
							sl.attempt = a + 1
							break
						}
					}
				}
			}
			s.mu.Unlock()
			if err != nil {
				return err
			}
		}
		if replay {
			return nil
		}
		return next(ctx, ev, pub)
	}
}

// maxAttempts bounds the search for a need's attempt beyond a slot's.
const maxAttempts = 64

// ownEstimated handles the asker's own meter.reading.estimated.v1: on
// replay, or as the echo of an estimate published before a restart, it
// makes the slot estimated — or trued up, when the actual read is known
// already (the read can only have come after the estimate).
func (s *service) ownEstimated(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	if ev.Source() != source {
		return nil
	}
	var est events.MeterReadingEstimated
	if err := ev.Decode(&est); err != nil {
		return err
	}
	if est.IntervalSeconds <= 0 {
		return rivers.Permanent(errInterval)
	}
	at := est.ReadAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.arrived(ctx, pub); err != nil {
		return err
	}
	m := s.meterOf(est.MeterID, deliveryOf(ctx))
	m.describe(est.TransformerID, est.FeederID, time.Duration(est.IntervalSeconds)*time.Second)
	sl := m.slots[at]
	if sl == nil {
		if m.tooOld(at) {
			return nil
		}
		sl = &slot{at: at}
		m.slots[at] = sl
	}
	if sl.est != nil {
		return nil // known: the echo of this instance's own estimate
	}
	delete(s.needs, sl.needID)
	sl.est = &est
	if kwh, ok := m.actualAt(at); ok {
		sl.state, sl.actual = done, kwh
		return s.trueUp(ctx, pub, m, sl)
	}
	sl.state = estimated
	return s.setRegister(ctx, pub, m, at, est.EnergyKWhTotal, true)
}

// ownAdjusted handles the asker's own meter.reading.adjusted.v1: the slot
// is trued up.
func (s *service) ownAdjusted(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	if ev.Source() != source {
		return nil
	}
	var adj events.MeterReadingAdjusted
	if err := ev.Decode(&adj); err != nil {
		return err
	}
	at := adj.ReadAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.arrived(ctx, pub); err != nil {
		return err
	}
	m := s.meterOf(adj.MeterID, deliveryOf(ctx))
	sl := m.slots[at]
	if sl == nil {
		if m.tooOld(at) {
			return nil
		}
		sl = &slot{at: at}
		m.slots[at] = sl
	}
	delete(s.needs, sl.needID)
	if sl.est == nil {
		sl.est = &events.MeterReadingEstimated{MeterID: adj.MeterID, ReadAt: at, EnergyKWhTotal: adj.EstimatedEnergyKWhTotal,
			Method: adj.Method, NeedID: adj.NeedID, Solver: adj.Solver, SolverVersion: adj.SolverVersion}
	}
	sl.state, sl.actual, sl.trued = done, adj.ActualEnergyKWhTotal, true
	return nil
}

// ownPeriod handles the asker's own billing.period.v1: the latest revision
// of each day and month published, and a month's days as published.
func (s *service) ownPeriod(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	if ev.Source() != source {
		return nil
	}
	var p events.BillingPeriod
	if err := ev.Decode(&p); err != nil {
		return err
	}
	p.Start, p.End = p.Start.UTC(), p.End.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.arrived(ctx, pub); err != nil {
		return err
	}
	m := s.meterOf(p.MeterID, deliveryOf(ctx))
	switch p.Period {
	case "day":
		if n := p.MeasuredIntervals + p.EstimatedIntervals; m.interval == 0 && n > 0 {
			m.interval = 24 * time.Hour / time.Duration(n)
		}
		if d := s.dayOf(m, p.Start); d != nil && p.Revision > d.revision {
			d.revision, d.last = p.Revision, p
		}
		s.monthDay(m, p)
	case "month":
		if mo := s.monthOf(m, p.Start, p.Start); mo != nil && p.Revision > mo.revision {
			mo.revision, mo.last = p.Revision, p
		}
	}
	return nil
}

// source is the ce_source of the events the service publishes.
const source = "/services/" + Name
