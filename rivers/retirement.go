package rivers

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// Event types the SDK itself publishes or reads.
const (
	typeHeartbeat  = events.TypeHeartbeat
	typeRetirement = events.TypeRetirement
	typeStarted    = events.TypeServiceStarted
	typeStopping   = events.TypeServiceStopping
)

// RetirementRiver is the name of the river every service has for
// system.retirement.v1 events addressed to it.
const RetirementRiver = "watershed.retirement"

// retirement is the set of event types the ecosystem told this service to
// stop publishing.
type retirement struct {
	n     atomic.Int32 // len(types), read without the lock on every publish
	mu    sync.Mutex
	types map[string]retireState
}

type retireState struct {
	phase       string
	effectiveAt time.Time
	reason      string
}

// Retiring describes a type retired, or about to be.
type Retiring struct {
	Type        string    `json:"type"`
	Phase       string    `json:"phase"` // notice or retired
	EffectiveAt time.Time `json:"effective_at"`
	Reason      string    `json:"reason,omitempty"`
}

func newRetirement() *retirement { return &retirement{types: map[string]retireState{}} }

// isRetired reports whether typ may not be published at now.
func (r *retirement) isRetired(typ string, now time.Time) bool {
	if r.n.Load() == 0 {
		return false
	}
	r.mu.Lock()
	st, ok := r.types[typ]
	r.mu.Unlock()
	return ok && !now.Before(st.effectiveAt)
}

// apply records a decision and reports whether it changed anything. System
// types are never retired.
func (r *retirement) apply(m events.Retirement, now time.Time) bool {
	if strings.HasPrefix(m.EventType, "system.") {
		return false
	}
	r.mu.Lock()
	defer func() { r.n.Store(int32(len(r.types))); r.mu.Unlock() }()
	switch m.Phase {
	case events.PhaseReinstated:
		_, had := r.types[m.EventType]
		delete(r.types, m.EventType)
		return had
	case events.PhaseNotice:
		at := m.EffectiveAt
		if at.IsZero() {
			at = now.Add(time.Duration(m.GraceSeconds * float64(time.Second)))
		}
		r.types[m.EventType] = retireState{phase: m.Phase, effectiveAt: at, reason: m.Reason}
		return true
	case events.PhaseRetired:
		r.types[m.EventType] = retireState{phase: m.Phase, effectiveAt: now, reason: m.Reason}
		return true
	}
	return false
}

// list returns the retired types and those under notice, sorted.
func (r *retirement) list(now time.Time) (retired []string, all []Retiring) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, st := range r.types {
		phase := events.PhaseNotice
		if !now.Before(st.effectiveAt) {
			phase = events.PhaseRetired
			retired = append(retired, t)
		}
		all = append(all, Retiring{Type: t, Phase: phase, EffectiveAt: st.effectiveAt, Reason: st.reason})
	}
	slices.Sort(retired)
	slices.SortFunc(all, func(a, b Retiring) int { return strings.Compare(a.Type, b.Type) })
	return retired, all
}

// Retired returns the event types this service may not publish now.
func (s *Service) Retired() []string {
	r, _ := s.retire.list(s.clock.Now())
	return r
}

// handleRetirements registers the river of system.retirement.v1 events
// addressed to this service.
func (s *Service) handleRetirements() {
	r := NewRiver(typeRetirement).Named(RetirementRiver).
		RequireValue("service", s.cfg.Name).
		Require("event_type", "phase").
		Interested("grace_s", "effective_at", "reason", "subscribers", "last_demand_at", "decided_at")
	err := s.register(r, func(ctx context.Context, ev Event, _ Publisher) error {
		var m events.Retirement
		if err := ev.Decode(&m); err != nil {
			return err
		}
		now := s.clock.Now()
		if strings.HasPrefix(m.EventType, "system.") {
			Logger(ctx).Warn("ignoring retirement of a system event type", "event_type", m.EventType, "phase", m.Phase)
			return nil
		}
		if !s.retire.apply(m, now) {
			return nil
		}
		log := Logger(ctx)
		switch m.Phase {
		case events.PhaseNotice:
			// The one warning a team gets before its events stop: say what
			// happens and how to keep the type alive.
			_, all := s.retire.list(now)
			at := now
			for _, r := range all {
				if r.Type == m.EventType {
					at = r.EffectiveAt
				}
			}
			log.Warn("retirement notice: nothing subscribes to this event type, so this service stops publishing it at effective_at; "+
				"a service that subscribes to it (not passively) before then cancels the notice, and a later subscriber reinstates it",
				"event_type", m.EventType, "effective_at", at, "reason", m.Reason)
		case events.PhaseRetired:
			log.Warn("retired: this service no longer publishes this event type (publishing it returns ErrRetired) until a subscriber appears",
				"event_type", m.EventType, "reason", m.Reason)
		default:
			log.Info("reinstated: publishing this event type again", "event_type", m.EventType, "reason", m.Reason)
		}
		return nil
	}, nil, true)
	if err != nil {
		panic(err) // the SDK's own river is valid
	}
}
