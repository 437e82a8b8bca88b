package demandtracker

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/rivers/landscape"
)

// Phase is a retirement phase, as in system.retirement.v1.
type Phase string

// Retirement phases.
const (
	Notice     Phase = "notice"     // nobody wants the type: publishing stops after the grace
	Retired    Phase = "retired"    // stop publishing now
	Reinstated Phase = "reinstated" // demand returned: publish again
)

// State is where a type stands in the tracker.
type State string

// Type states.
const (
	Demanded State = "demanded" // at least one active subscriber
	Idle     State = "idle"     // no active subscriber since Since
	Noticed  State = "noticed"  // notice sent at Since
	Gone     State = "retired"  // retired at Since
	Exempt   State = "exempt"   // system or essential type: never retired
)

// Decision is one retirement decision for one producing service, published
// as system.retirement.v1.
type Decision struct {
	Service      string
	Type         string
	Phase        Phase
	Grace        time.Duration // notice only
	EffectiveAt  time.Time
	Reason       string
	Subscribers  int       // active subscribers when deciding
	LastDemandAt time.Time // zero if never seen
	DecidedAt    time.Time
}

// TrackerConfig tunes a Tracker.
type TrackerConfig struct {
	// Idle is how long a type may have no active subscriber before its
	// producers get a notice. Default 10m.
	Idle time.Duration
	// Grace is the time between the notice and the retirement. Default 10m.
	Grace time.Duration
	// Essential lists types never retired: exact types or "prefix.*"
	// patterns. System types (system.*) are always essential.
	Essential []string
	// Resend: a producer that still publishes a retired type (it restarted
	// and forgot, or missed the event) is told again, at most this often.
	// Default 1m.
	Resend time.Duration
}

func (c TrackerConfig) withDefaults() TrackerConfig {
	if c.Idle <= 0 {
		c.Idle = 10 * time.Minute
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Minute
	}
	if c.Resend <= 0 {
		c.Resend = time.Minute
	}
	return c
}

// SystemPrefix marks the ecosystem's own types, which are never retired.
const SystemPrefix = "system."

type typeState struct {
	state      State
	since      time.Time
	lastDemand time.Time
	active     int
	producers  []string             // service names, sorted
	versions   []string             // service@version of producers, sorted
	retiredBy  []string             // service@version that report it retired
	lastSent   map[string]time.Time // service -> last retired decision
}

// TypeStatus is one type's standing, for the HTTP report.
type TypeStatus struct {
	Type         string    `json:"type"`
	State        State     `json:"state"`
	Since        time.Time `json:"since,omitzero"`
	Active       int       `json:"active_subscribers"`
	LastDemandAt time.Time `json:"last_demand_at,omitzero"`
	Producers    []string  `json:"producers"`  // service@version
	RetiredBy    []string  `json:"retired_by"` // service@version
}

// Tracker decides retirements from the demand graph. It keeps no clock:
// every call takes now. It is not safe for concurrent use.
type Tracker struct {
	cfg   TrackerConfig
	types map[string]*typeState
}

// NewTracker returns a tracker; zero config fields take their defaults.
func NewTracker(cfg TrackerConfig) *Tracker {
	return &Tracker{cfg: cfg.withDefaults(), types: map[string]*typeState{}}
}

// Config returns the effective configuration, defaults applied.
func (t *Tracker) Config() TrackerConfig { return t.cfg }

// IsEssential reports whether typ is never retired.
func (t *Tracker) IsEssential(typ string) bool {
	if strings.HasPrefix(typ, SystemPrefix) {
		return true
	}
	for _, e := range t.cfg.Essential {
		if p, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(typ, p) || e == typ {
			return true
		}
	}
	return false
}

// Evaluate judges every type of the graph at now and returns the decisions
// to publish, ordered by type then service. Call it after heartbeats changed
// the graph, and on a timer.
func (t *Tracker) Evaluate(g landscape.Graph, now time.Time) []Decision {
	var out []Decision
	seen := map[string]bool{}
	for _, ty := range g.Types {
		seen[ty.Type] = true
		st := t.types[ty.Type]
		if st == nil {
			if len(ty.Producers) == 0 && len(ty.RetiredBy) == 0 {
				continue // consumed but not produced: nothing to retire
			}
			st = &typeState{lastSent: map[string]time.Time{}}
			t.types[ty.Type] = st
		}
		st.active = ty.Active
		st.versions, st.retiredBy = nil, slices.Clone(ty.RetiredBy)
		var services []string
		for _, p := range ty.Producers {
			services = append(services, p.Service)
			st.versions = append(st.versions, landscape.ID(p.Service, p.Version))
		}
		for _, id := range ty.RetiredBy {
			svc, _, _ := strings.Cut(id, "@")
			services = append(services, svc)
		}
		slices.Sort(services)
		st.producers = slices.Compact(services)
		slices.Sort(st.versions)
		if t.IsEssential(ty.Type) {
			st.state = Exempt
			continue
		}
		out = append(out, t.step(ty, st, now)...)
	}
	// types gone from the graph: keep retirements (a producer may be
	// restarting), forget the rest
	for name, st := range t.types {
		if !seen[name] && st.state != Noticed && st.state != Gone {
			delete(t.types, name)
		}
	}
	slices.SortFunc(out, func(a, b Decision) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Service, b.Service))
	})
	return out
}

func (t *Tracker) step(ty landscape.Type, st *typeState, now time.Time) []Decision {
	decide := func(phase Phase, services []string, reason string) []Decision {
		var out []Decision
		for _, svc := range services {
			d := Decision{Service: svc, Type: ty.Type, Phase: phase, EffectiveAt: now, Reason: reason,
				Subscribers: ty.Active, LastDemandAt: st.lastDemand, DecidedAt: now}
			if phase == Notice {
				d.Grace, d.EffectiveAt = t.cfg.Grace, now.Add(t.cfg.Grace)
			}
			if phase != Notice {
				st.lastSent[svc] = now
			}
			out = append(out, d)
		}
		return out
	}
	if ty.Active > 0 {
		st.lastDemand = now
		prev := st.state
		st.state, st.since = Demanded, now
		reason := fmt.Sprintf("%d non-passive subscriber(s)", ty.Active)
		if prev == Noticed || prev == Gone {
			clear(st.lastSent)
			return decide(Reinstated, st.producers, reason+" appeared")
		}
		// producers still reporting the type retired (a retirement from
		// before this tracker started, or a lost reinstatement) are told
		// again, at most every Resend
		var again []string
		for _, svc := range servicesOf(ty.RetiredBy) {
			if last, ok := st.lastSent[svc]; !ok || now.Sub(last) >= t.cfg.Resend {
				again = append(again, svc)
			}
		}
		return decide(Reinstated, again, reason+"; producer still reports the type retired")
	}
	switch st.state {
	case "":
		if len(ty.RetiredBy) > 0 {
			st.state, st.since = Gone, now // adopt a retirement announced before this tracker started
			for _, svc := range servicesOf(ty.RetiredBy) {
				st.lastSent[svc] = now
			}
			return nil
		}
		st.state, st.since = Idle, now
	case Demanded, Exempt:
		clear(st.lastSent)
		st.state, st.since = Idle, now
	case Idle:
		if now.Sub(st.since) >= t.cfg.Idle {
			st.state, st.since = Noticed, now
			return decide(Notice, st.producers, fmt.Sprintf("no non-passive subscriber for %s", t.cfg.Idle))
		}
	case Noticed:
		if now.Sub(st.since) >= t.cfg.Grace {
			st.state, st.since = Gone, now
			return decide(Retired, st.producers, fmt.Sprintf("no non-passive subscriber for %s after a notice with %s grace", t.cfg.Idle, t.cfg.Grace))
		}
	case Gone:
		// producers still listing the type as published have not obeyed
		var again []string
		for _, p := range ty.Producers {
			if last, ok := st.lastSent[p.Service]; (!ok || now.Sub(last) >= t.cfg.Resend) && !slices.Contains(again, p.Service) {
				again = append(again, p.Service)
			}
		}
		return decide(Retired, again, "still published after retirement: repeated")
	}
	return nil
}

func servicesOf(ids []string) []string {
	var out []string
	for _, id := range ids {
		svc, _, _ := strings.Cut(id, "@")
		out = append(out, svc)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Status returns every tracked type's standing, by type.
func (t *Tracker) Status() []TypeStatus {
	out := make([]TypeStatus, 0, len(t.types))
	for name, st := range t.types {
		ts := TypeStatus{Type: name, State: st.state, Since: st.since, Active: st.active, LastDemandAt: st.lastDemand,
			Producers: slices.Clone(st.versions), RetiredBy: slices.Clone(st.retiredBy)}
		if ts.Producers == nil {
			ts.Producers = []string{}
		}
		if ts.RetiredBy == nil {
			ts.RetiredBy = []string{}
		}
		out = append(out, ts)
	}
	slices.SortFunc(out, func(a, b TypeStatus) int { return cmp.Compare(a.Type, b.Type) })
	return out
}
