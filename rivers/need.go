package rivers

// Need and solution (Fred George's "need/solution", RIAPS's query/answer):
// a service that wants something publishes a need on the rivers, any
// service able to help answers with a solution, and the asker takes the
// best of the solutions that arrived before the deadline by its own rule.
// Nobody is called: the asker does not know who answers, solvers do not
// know who else does, and a new solver (or a new version of one) joins by
// subscribing.
//
// The wire convention, for any pair of need and solution types:
//
//   - a need's payload carries need_id (its ce_id), asker (the asking
//     service's name) and deadline (RFC 3339); its use-by (ce_expirytime) is
//     the deadline, so a solver that reads it too late drops it unread;
//   - a solution's payload carries need_id, asker, solver, solver_version
//     and asked_at (the need's ce_time), is derived from the need (its
//     ce_causationid is the need's id) and expires at the deadline too.
//
// Deadlines are on the service clock (processing time): which solutions
// arrive in time depends on the ecosystem's speed, never what a solution
// says. Pending needs live in the asker's memory; after a restart,
// solutions of needs it asked before are counted as unknown and ignored.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/watershed-grid/watershed/contracts"
)

// Payload keys of the need/solution convention.
const (
	KeyNeedID        = "need_id"
	KeyAsker         = "asker"
	KeyDeadline      = "deadline"
	KeySolver        = "solver"
	KeySolverVersion = "solver_version"
	KeyAskedAt       = "asked_at"
)

// Metrics of needs and solutions (labels: type, outcome).
const (
	// MetricNeedsAsked counts needs published by an asker.
	MetricNeedsAsked = "watershed_needs_asked_total"
	// MetricNeedsDecided counts needs decided, outcome solved, unsolved or
	// failed (Decided failed permanently).
	MetricNeedsDecided = "watershed_needs_decided_total"
	// MetricSolutions counts solutions an asker received: outcome
	// collected, late (after its decision), unknown (not a pending need of
	// this asker: asked by another, or before a restart), duplicate.
	MetricSolutions = "watershed_solutions_received_total"
	// MetricNeedsAnswered counts needs a solver read: outcome answered,
	// declined (the solver published nothing), late (past the deadline).
	MetricNeedsAnswered = "watershed_needs_answered_total"
)

// NeedMeta is what identifies a need.
type NeedMeta struct {
	// ID is the need's ce_id and need_id.
	ID string
	// Asker is the asking service's name.
	Asker string
	// Deadline is when the asker decides.
	Deadline time.Time
	// AskedAt is the need's ce_time.
	AskedAt time.Time
}

// SolutionMeta identifies a solution: the members a solution payload
// carries besides its answer.
type SolutionMeta struct {
	NeedID        string
	Asker         string
	Solver        string
	SolverVersion string
	AskedAt       time.Time
}

// Need is a need as a solver reads it: its identity and the event (read
// the rest of the payload through it, as the river declares).
type Need struct {
	NeedMeta
	Event Event
}

// needMeta reads a need's members from ev.
func needMeta(ev Event) (NeedMeta, error) {
	id, err := ev.String(KeyNeedID)
	if err != nil {
		return NeedMeta{}, err
	}
	asker, err := ev.String(KeyAsker)
	if err != nil {
		return NeedMeta{}, err
	}
	deadline, err := ev.Time(KeyDeadline)
	if err != nil {
		return NeedMeta{}, err
	}
	if id != ev.ID() {
		return NeedMeta{}, Permanent(fmt.Errorf("rivers: need %s: need_id %q is not its ce_id", ev.Type(), id))
	}
	return NeedMeta{ID: id, Asker: asker, Deadline: deadline, AskedAt: ev.OccurredAt()}, nil
}

// SolveFunc answers one need: it calls a.Answer for each solution it has
// (usually one) and returns nil, or returns nil without answering to
// decline. Its errors are handled as any handler's.
type SolveFunc func(ctx context.Context, need Need, a *Answerer) error

// Answerer publishes the solutions of one need.
type Answerer struct {
	svc      *Service
	pub      Publisher
	need     Need
	answered int
}

// Answer publishes a solution of type typ to the need. build receives the
// solution's identity and returns the payload, which must carry it (need_id,
// asker, solver, solver_version, asked_at). The solution is derived from the
// need and expires at its deadline.
func (a *Answerer) Answer(ctx context.Context, typ string, build func(SolutionMeta) any, opts ...PublishOption) error {
	cfg := a.svc.Config()
	m := SolutionMeta{NeedID: a.need.ID, Asker: a.need.Asker, Solver: cfg.Name, SolverVersion: cfg.Version, AskedAt: a.need.AskedAt}
	opts = append([]PublishOption{WithExpiry(a.need.Deadline)}, opts...)
	if err := a.pub.Publish(ctx, typ, checked{build(m), KeyNeedID, m.NeedID}, opts...); err != nil {
		return err
	}
	a.answered++
	return nil
}

// Solve registers h as the solver of the needs river r carries. The river
// is made to require need_id, asker and deadline. A need whose deadline has
// passed on the service clock is dropped (counted late) without calling h.
func Solve(s *Service, r *River, h SolveFunc, mws ...Middleware) {
	r.Require(KeyNeedID, KeyAsker, KeyDeadline)
	c := s.needCounters()
	s.Handle(r, func(ctx context.Context, ev Event, pub Publisher) error {
		m, err := needMeta(ev)
		if err != nil {
			return err
		}
		typ := metric.WithAttributes(attribute.String("type", ev.Type()))
		if Now(ctx).After(m.Deadline) {
			c.answered.Add(ctx, 1, typ, metric.WithAttributes(attribute.String("outcome", "late")))
			return nil
		}
		a := &Answerer{svc: s, pub: pub, need: Need{NeedMeta: m, Event: ev}}
		if err := h(ctx, a.need, a); err != nil {
			return err
		}
		outcome := "answered"
		if a.answered == 0 {
			outcome = "declined"
		}
		c.answered.Add(ctx, 1, typ, metric.WithAttributes(attribute.String("outcome", outcome)))
		return nil
	}, mws...)
}

// Solution is a solution as the asker collected it.
type Solution[S any] struct {
	SolutionMeta
	// Value is the payload decoded.
	Value S
	// ID is the solution's ce_id.
	ID string
	// ReceivedAt is when the asker read it (service clock).
	ReceivedAt time.Time
}

// Latency is the time from the need to the solution: the solution's
// arrival at the asker minus the need's ce_time.
func (s Solution[S]) Latency() time.Duration { return s.ReceivedAt.Sub(s.AskedAt) }

// Decision is the outcome of a need: every solution collected in time,
// and the best by the asker's rule (nil when none came).
type Decision[S any] struct {
	Need      NeedMeta
	Best      *Solution[S]
	Solutions []Solution[S]
}

// AskerConfig configures an [Asker].
type AskerConfig[S any] struct {
	// Need and Solution are the event types.
	Need, Solution string
	// River reads the solutions: its type must be Solution and it must
	// declare every key S decodes; Ask adds need_id, asker, solver,
	// solver_version and asked_at. Default: a river of Solution.
	River *River
	// Wait is the time from asking to the deadline. Default 10s.
	Wait time.Duration
	// Better is the asker's rule: whether a is better than b. Default: the
	// first to arrive wins.
	Better func(a, b Solution[S]) bool
	// Enough decides a need as soon as that many solutions came. 0: at
	// the deadline only.
	Enough int
	// Tick is how often deadlines are checked. Default Wait/10, at least
	// 10ms.
	Tick time.Duration
	// Decided receives each decision, once per need, from the solution
	// handler (Enough reached; pub derives from the last solution) or from
	// a timer (deadline; pub publishes origin events). After an error the
	// need is pending again and decided at the next tick; a permanent error
	// at the deadline drops it (counted failed, logged).
	Decided func(ctx context.Context, d Decision[S], pub Publisher) error
}

// Asker publishes needs and collects their solutions.
type Asker[S any] struct {
	svc     *Service
	cfg     AskerConfig[S]
	c       needCounters
	mu      sync.Mutex
	pending map[string]*pendingNeed[S]
	decided map[string]time.Time // recently decided: late solutions are told apart from unknown ones
}

type pendingNeed[S any] struct {
	meta      NeedMeta
	solutions []Solution[S]
}

// NewAsker registers the asker's solution river and deadline timer on s.
func NewAsker[S any](s *Service, cfg AskerConfig[S]) (*Asker[S], error) {
	if cfg.Need == "" || cfg.Solution == "" {
		return nil, errors.New("rivers: asker: Need and Solution types are required")
	}
	if cfg.Decided == nil {
		return nil, errors.New("rivers: asker: Decided is required")
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 10 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = max(cfg.Wait/10, 10*time.Millisecond)
	}
	if cfg.River == nil {
		cfg.River = NewRiver(cfg.Solution)
	}
	cfg.River.Require(KeyNeedID, KeyAsker, KeySolver, KeySolverVersion, KeyAskedAt)
	a := &Asker[S]{svc: s, cfg: cfg, c: s.needCounters(), pending: map[string]*pendingNeed[S]{}, decided: map[string]time.Time{}}
	s.Publishes(cfg.Need)
	s.Handle(cfg.River, a.collect)
	s.Every(cfg.Tick, "needs "+cfg.Need, a.expire)
	return a, nil
}

// Ask publishes a need through pub (a handler's or a timer's) with the
// deadline Wait from now. id identifies the need: pass a stable one (from
// what is needed) so a retried or redelivered handler asks the same need
// again instead of a second one; "" makes a new id. build receives the
// need's identity and returns the payload, which must carry need_id, asker
// and deadline. It returns the need's id.
func (a *Asker[S]) Ask(ctx context.Context, pub Publisher, id string, build func(NeedMeta) any, opts ...PublishOption) (string, error) {
	if id == "" {
		id = contracts.NewID()
	}
	now := Now(ctx)
	m := NeedMeta{ID: id, Asker: a.svc.Config().Name, Deadline: now.Add(a.cfg.Wait).UTC(), AskedAt: now.UTC()}
	opts = append([]PublishOption{WithExpiry(m.Deadline), WithTime(m.AskedAt)}, opts...)
	data := checked{build(m), KeyNeedID, id}
	if err := pub.Publish(ctx, a.cfg.Need, contracts.Identified{ID: id, Data: data}, opts...); err != nil {
		return "", err
	}
	a.mu.Lock()
	if _, ok := a.pending[id]; !ok {
		a.pending[id] = &pendingNeed[S]{meta: m}
	}
	a.mu.Unlock()
	a.c.asked.Add(ctx, 1, metric.WithAttributes(attribute.String("type", a.cfg.Need)))
	return id, nil
}

// Pending returns the number of needs awaiting their decision.
func (a *Asker[S]) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}

func (a *Asker[S]) collect(ctx context.Context, ev Event, pub Publisher) error {
	var sm SolutionMeta
	var err error
	if sm.NeedID, err = ev.String(KeyNeedID); err != nil {
		return err
	}
	if sm.Asker, err = ev.String(KeyAsker); err != nil {
		return err
	}
	if sm.Solver, err = ev.String(KeySolver); err != nil {
		return err
	}
	if sm.SolverVersion, err = ev.String(KeySolverVersion); err != nil {
		return err
	}
	if sm.AskedAt, err = ev.Time(KeyAskedAt); err != nil {
		return err
	}
	count := func(outcome string) {
		a.c.solutions.Add(ctx, 1, metric.WithAttributes(attribute.String("type", ev.Type()), attribute.String("outcome", outcome)))
	}
	if sm.Asker != a.svc.Config().Name {
		count("unknown")
		return nil
	}
	var v S
	if err := ev.Decode(&v); err != nil {
		return err
	}
	a.mu.Lock()
	p, ok := a.pending[sm.NeedID]
	if !ok {
		_, late := a.decided[sm.NeedID]
		a.mu.Unlock()
		if late {
			count("late")
		} else {
			count("unknown")
		}
		return nil
	}
	for _, s := range p.solutions {
		if s.Solver == sm.Solver && s.SolverVersion == sm.SolverVersion {
			a.mu.Unlock()
			count("duplicate")
			return nil
		}
	}
	p.solutions = append(p.solutions, Solution[S]{SolutionMeta: sm, Value: v, ID: ev.ID(), ReceivedAt: Now(ctx)})
	count("collected")
	if a.cfg.Enough <= 0 || len(p.solutions) < a.cfg.Enough {
		a.mu.Unlock()
		return nil
	}
	a.decideLocked(p, Now(ctx))
	a.mu.Unlock()
	return a.decide(ctx, p, pub)
}

func (a *Asker[S]) expire(ctx context.Context, now time.Time, pub Publisher) error {
	var due []*pendingNeed[S]
	a.mu.Lock()
	for _, p := range a.pending {
		if !now.Before(p.meta.Deadline) {
			due = append(due, p)
		}
	}
	for _, p := range due {
		a.decideLocked(p, now)
	}
	for id, at := range a.decided {
		if now.Sub(at) > 10*a.cfg.Wait {
			delete(a.decided, id)
		}
	}
	a.mu.Unlock()
	// Each decision stands alone: a failed one must not discard the
	// others' publications (a timer's failed attempt publishes nothing), so
	// it is not returned. A transient failure is decided again at the next
	// tick (decide put it back); a permanent one is dropped and counted.
	for _, p := range due {
		err := a.decide(ctx, p, pub)
		if err == nil {
			continue
		}
		if IsPermanent(err) {
			a.mu.Lock()
			a.decideLocked(p, now)
			a.mu.Unlock()
			a.c.decided.Add(ctx, 1, metric.WithAttributes(attribute.String("type", a.cfg.Need), attribute.String("outcome", "failed")))
			Logger(ctx).ErrorContext(ctx, "need decision failed for good", "need", a.cfg.Need, "need_id", p.meta.ID, "error", err)
			continue
		}
		Logger(ctx).WarnContext(ctx, "need decision failed, deciding again at the next tick", "need", a.cfg.Need, "need_id", p.meta.ID, "error", err)
	}
	return nil
}

// decideLocked moves p from pending to decided.
func (a *Asker[S]) decideLocked(p *pendingNeed[S], now time.Time) {
	delete(a.pending, p.meta.ID)
	a.decided[p.meta.ID] = now
}

func (a *Asker[S]) decide(ctx context.Context, p *pendingNeed[S], pub Publisher) error {
	d := Decision[S]{Need: p.meta, Solutions: p.solutions}
	for i := range d.Solutions {
		if d.Best == nil || (a.cfg.Better != nil && a.cfg.Better(d.Solutions[i], *d.Best)) {
			d.Best = &d.Solutions[i]
		}
	}
	if err := a.cfg.Decided(ctx, d, pub); err != nil {
		// undecided again: the retry (or the next tick past the deadline)
		// decides it
		a.mu.Lock()
		a.pending[p.meta.ID] = p
		delete(a.decided, p.meta.ID)
		a.mu.Unlock()
		return err
	}
	outcome := "unsolved"
	if d.Best != nil {
		outcome = "solved"
	}
	a.c.decided.Add(ctx, 1, metric.WithAttributes(attribute.String("type", a.cfg.Need), attribute.String("outcome", outcome)))
	return nil
}

// checked wraps a need or solution payload so that publishing it checks
// that its id member is the expected one.
type checked struct {
	v    any
	key  string
	want string
}

func (c checked) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(c.v)
	if err != nil {
		return nil, err
	}
	if got, _ := stringMember(b, c.key); got != c.want {
		return nil, fmt.Errorf("rivers: payload %s is %q, want %q", c.key, got, c.want)
	}
	return b, nil
}

type needCounters struct {
	asked, decided, solutions, answered metric.Int64Counter
}

func (s *Service) needCounters() needCounters {
	s.needOnce.Do(func() {
		m := s.Meter()
		counter := func(name, desc string) metric.Int64Counter {
			c, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{event}"))
			if err != nil {
				s.Logger().Error("rivers: counter", "name", name, "err", err)
				c, _ = noop.Meter{}.Int64Counter(name)
			}
			return c
		}
		s.needs = needCounters{
			asked:     counter("watershed.needs.asked", "Needs published by this service as an asker."),
			decided:   counter("watershed.needs.decided", "Needs decided, by outcome (solved, unsolved)."),
			solutions: counter("watershed.solutions.received", "Solutions received by this service as an asker, by outcome."),
			answered:  counter("watershed.needs.answered", "Needs read by this service as a solver, by outcome."),
		}
	})
	return s.needs
}
