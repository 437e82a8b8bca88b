package heartbeatmonitor

import (
	"cmp"
	"slices"
	"time"
)

// Kind is the kind of a liveness transition.
type Kind string

// Transition kinds, one per published event type.
const (
	Down Kind = "down" // system.service.down.v1
	Up   Kind = "up"   // system.service.up.v1
)

// Reasons carried by transitions.
const (
	ReasonMissedHeartbeats = "missed_heartbeats" // down: no heartbeat for Misses intervals
	ReasonNew              = "new"               // up: first instance of a service never seen before
	ReasonStarted          = "started"           // up: a further instance of a known service, nothing to replace
	ReasonReturned         = "returned"          // up: heartbeats resumed from an instance marked down
	ReasonRestart          = "restart"           // up: a new instance replaced one that went down or stopped
)

// Beat is what the monitor needs from one system.heartbeat.v1.
type Beat struct {
	Service  string
	Version  string
	Instance string
	// Interval is the heartbeat interval the instance advertises
	// (interval_s); zero means the monitor's configured default.
	Interval time.Duration
	// At is the heartbeat's ce_time; zero means the time it was received.
	At time.Time
}

// Transition is one liveness change, to be published as an event.
type Transition struct {
	Kind     Kind
	Service  string
	Version  string
	Instance string
	Reason   string
	// Up: NewService when no instance of the service was ever seen;
	// PreviousInstance and DownSince when it replaces or returns from a
	// down (or stopped) instance.
	NewService       bool
	PreviousInstance string
	DownSince        time.Time
	FirstBeatAt      time.Time // up: ce_time of the first heartbeat heard
	// Down: the last heartbeat's ce_time, intervals missed, and how many
	// other instances of the service are still alive.
	LastBeatAt time.Time
	Missed     int
	Remaining  int
	Interval   time.Duration // the heartbeat interval the judgement used
	At         time.Time     // when the monitor decided
}

// State is the liveness of one instance.
type State string

// Instance states.
const (
	Alive   State = "alive"
	Dead    State = "down"
	Stopped State = "stopped" // announced system.service.stopping
)

// Instance is one instance as the monitor sees it.
type Instance struct {
	Service    string
	Version    string
	Instance   string
	State      State
	FirstSeen  time.Time // when its first heartbeat was seen (see Beat)
	LastSeen   time.Time // when its last heartbeat was seen (see Beat)
	LastBeatAt time.Time // ce_time of its last heartbeat
	Since      time.Time // when it entered State
	Interval   time.Duration
}

// MonitorConfig tunes a Monitor.
type MonitorConfig struct {
	// Misses is how many heartbeat intervals may pass without a heartbeat
	// before an instance is down. Default 3.
	Misses int
	// DefaultInterval is used for instances that do not advertise their
	// heartbeat interval. Default 5s.
	DefaultInterval time.Duration
	// ForgetAfter drops instances that have been down or stopped this long,
	// so a later instance is not taken for their replacement. Default 1h.
	ForgetAfter time.Duration
}

func (c MonitorConfig) withDefaults() MonitorConfig {
	if c.Misses <= 0 {
		c.Misses = 3
	}
	if c.DefaultInterval <= 0 {
		c.DefaultInterval = 5 * time.Second
	}
	if c.ForgetAfter <= 0 {
		c.ForgetAfter = time.Hour
	}
	return c
}

// Monitor is the liveness state machine of every instance seen in
// heartbeats. It keeps no clock of its own: every call takes now, so it is
// tested with a fake clock and driven by the service's timer. It is not
// safe for concurrent use.
type Monitor struct {
	cfg       MonitorConfig
	instances map[string]*Instance // by instance id
	services  map[string]bool      // every service name ever heard
}

// NewMonitor returns a monitor; zero config fields take their defaults.
func NewMonitor(cfg MonitorConfig) *Monitor {
	return &Monitor{cfg: cfg.withDefaults(), instances: map[string]*Instance{}, services: map[string]bool{}}
}

// Config returns the effective configuration, defaults applied.
func (m *Monitor) Config() MonitorConfig { return m.cfg }

func (m *Monitor) interval(in *Instance) time.Duration {
	if in.Interval > 0 {
		return in.Interval
	}
	return m.cfg.DefaultInterval
}

// Beat records a heartbeat seen at now and returns the transitions it
// causes: up for a new instance (a restart when it replaces one of the same
// service that went down or stopped), up again for a down instance that
// returned. now is on the clock Check is given: the service passes its
// position in the stream when it read the heartbeat and checks against its
// position, so a heartbeat it reads late is not taken for a late
// heartbeat.
func (m *Monitor) Beat(b Beat, now time.Time) []Transition {
	if b.Service == "" || b.Instance == "" {
		return nil
	}
	at := b.At
	if at.IsZero() {
		at = now
	}
	if in, ok := m.instances[b.Instance]; ok {
		if now.After(in.LastSeen) {
			in.LastSeen = now
		}
		if at.After(in.LastBeatAt) {
			in.LastBeatAt = at
		}
		in.Version, in.Interval = b.Version, b.Interval
		if in.State == Alive {
			return nil
		}
		downSince := in.Since
		if in.State == Stopped {
			downSince = time.Time{}
		}
		in.State, in.Since = Alive, now
		return []Transition{{Kind: Up, Service: in.Service, Version: in.Version, Instance: in.Instance,
			Reason: ReasonReturned, DownSince: downSince, FirstBeatAt: at, Interval: m.interval(in), At: now}}
	}
	in := &Instance{Service: b.Service, Version: b.Version, Instance: b.Instance, State: Alive,
		FirstSeen: now, LastSeen: now, LastBeatAt: at, Since: now, Interval: b.Interval}
	m.instances[b.Instance] = in
	tr := Transition{Kind: Up, Service: in.Service, Version: in.Version, Instance: in.Instance,
		Reason: ReasonStarted, FirstBeatAt: at, Interval: m.interval(in), At: now}
	if !m.services[b.Service] {
		m.services[b.Service] = true
		tr.Reason, tr.NewService = ReasonNew, true
		return []Transition{tr}
	}
	// The most recently seen instance of the same service that is down or
	// stopped is the one this instance replaces.
	var prev *Instance
	for _, o := range m.instances {
		if o.Service == b.Service && o != in && o.State != Alive && (prev == nil || o.LastSeen.After(prev.LastSeen)) {
			prev = o
		}
	}
	if prev != nil {
		delete(m.instances, prev.Instance)
		tr.Reason, tr.PreviousInstance = ReasonRestart, prev.Instance
		if prev.State == Dead {
			tr.DownSince = prev.Since
		}
	}
	return []Transition{tr}
}

// Seen records that an instance known alive sent a heartbeat at now that
// the service read too late to handle (it had expired: see
// rivers.River.OnExpired): evidence of life, with no transition. It
// reports whether the instance was known alive; for any other the caller
// decides (a late Beat announces it).
func (m *Monitor) Seen(instance string, at, now time.Time) bool {
	in, ok := m.instances[instance]
	if !ok || in.State != Alive {
		return false
	}
	if now.After(in.LastSeen) {
		in.LastSeen = now
	}
	if at.After(in.LastBeatAt) {
		in.LastBeatAt = at
	}
	return true
}

// Overdue returns the alive instances Check would declare down at now,
// without changing anything, by service then instance.
func (m *Monitor) Overdue(now time.Time) []string {
	var out []string
	for _, in := range m.sorted() {
		if in.State == Alive && now.Sub(in.LastSeen) > time.Duration(m.cfg.Misses)*m.interval(in) {
			out = append(out, in.Instance)
		}
	}
	return out
}

// Stopping records that an instance announced an orderly stop
// (system.service.stopping.v1): it is not reported down, and the next
// instance of the service is its replacement.
func (m *Monitor) Stopping(instance string, now time.Time) {
	if in, ok := m.instances[instance]; ok && in.State != Stopped {
		in.State, in.Since = Stopped, now
	}
}

// Check judges every instance at now: an alive instance with no heartbeat
// for more than Misses intervals is down. Instances down or stopped longer
// than ForgetAfter are dropped. Transitions are ordered by service, then
// instance.
func (m *Monitor) Check(now time.Time) []Transition {
	var out []Transition
	for _, in := range m.sorted() {
		switch in.State {
		case Alive:
			iv := m.interval(in)
			silent := now.Sub(in.LastSeen)
			if silent <= time.Duration(m.cfg.Misses)*iv {
				continue
			}
			in.State, in.Since = Dead, now
			out = append(out, Transition{Kind: Down, Service: in.Service, Version: in.Version, Instance: in.Instance,
				Reason: ReasonMissedHeartbeats, LastBeatAt: in.LastBeatAt, Missed: int(silent / iv),
				Remaining: m.alive(in.Service), Interval: iv, At: now})
		case Dead, Stopped:
			if now.Sub(in.Since) > m.cfg.ForgetAfter {
				delete(m.instances, in.Instance)
			}
		}
	}
	return out
}

func (m *Monitor) alive(service string) int {
	n := 0
	for _, o := range m.instances {
		if o.Service == service && o.State == Alive {
			n++
		}
	}
	return n
}

func (m *Monitor) sorted() []*Instance {
	out := make([]*Instance, 0, len(m.instances))
	for _, in := range m.instances {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *Instance) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Instance, b.Instance))
	})
	return out
}

// Instances returns a copy of every known instance, by service then instance.
func (m *Monitor) Instances() []Instance {
	s := m.sorted()
	out := make([]Instance, len(s))
	for i, in := range s {
		out[i] = *in
	}
	return out
}
