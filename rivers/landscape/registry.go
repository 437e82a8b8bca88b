package landscape

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Wildcard in a river's types means every type; "prefix.*" means every
// type with that prefix.
const Wildcard = "*"

type record struct {
	hb       Heartbeat
	lastSeen time.Time
}

// Registry is the discovery view built only from heartbeats. An instance
// stays listed until it announces it is stopping or sends no heartbeat for
// the TTL. Methods are safe for concurrent use.
type Registry struct {
	ttl time.Duration

	mu        sync.RWMutex
	instances map[string]record // by instance id
}

// New returns an empty registry that forgets instances silent for ttl
// (default 30s when ttl <= 0).
func New(ttl time.Duration) *Registry {
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	return &Registry{ttl: ttl, instances: map[string]record{}}
}

// Observe records a heartbeat seen at now: the service passes its record
// time (the broker's clock) and expires on its position in the stream (see
// [Watch]). A heartbeat older than the one already recorded for its
// instance changes nothing. A heartbeat without service or instance is
// ignored and reported false.
func (r *Registry) Observe(hb Heartbeat, now time.Time) bool {
	if hb.Service == "" || hb.Instance == "" {
		return false
	}
	hb.Publishes = slices.Clone(hb.Publishes)
	hb.Rivers = slices.Clone(hb.Rivers)
	hb.Retired = slices.Clone(hb.Retired)
	hb.Retiring = slices.Clone(hb.Retiring)
	r.mu.Lock()
	if old, ok := r.instances[hb.Instance]; !ok || !now.Before(old.lastSeen) {
		r.instances[hb.Instance] = record{hb: hb, lastSeen: now}
	}
	r.mu.Unlock()
	return true
}

// Remove drops an instance (it announced an orderly stop).
func (r *Registry) Remove(instance string) {
	r.mu.Lock()
	delete(r.instances, instance)
	r.mu.Unlock()
}

// Expire drops instances silent for longer than the TTL at now and returns
// how many it dropped.
func (r *Registry) Expire(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id, rec := range r.instances {
		if now.Sub(rec.lastSeen) > r.ttl {
			delete(r.instances, id)
			n++
		}
	}
	return n
}

// Stale returns the instances Expire would drop at now, without dropping
// them, in no particular order.
func (r *Registry) Stale(now time.Time) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for id, rec := range r.instances {
		if now.Sub(rec.lastSeen) > r.ttl {
			out = append(out, id)
		}
	}
	return out
}

func (r *Registry) snapshot() []record {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]record, 0, len(r.instances))
	for _, rec := range r.instances {
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.hb.Service, b.hb.Service), cmp.Compare(a.hb.Version, b.hb.Version),
			cmp.Compare(a.hb.Instance, b.hb.Instance))
	})
	return out
}

// Services returns every live service, by name, versions in order.
func (r *Registry) Services() []Service {
	var out []Service
	var newest time.Time
	for _, rec := range r.snapshot() {
		hb := rec.hb
		if len(out) == 0 || out[len(out)-1].Name != hb.Service {
			out = append(out, Service{Name: hb.Service})
		}
		s := &out[len(out)-1]
		if len(s.Versions) == 0 || s.Versions[len(s.Versions)-1].Version != hb.Version {
			s.Versions = append(s.Versions, Version{Version: hb.Version})
			newest = time.Time{}
		}
		v := &s.Versions[len(s.Versions)-1]
		v.Instances = append(v.Instances, Instance{ID: hb.Instance, StartedAt: hb.StartedAt, LastSeen: rec.lastSeen,
			UptimeSeconds: hb.Uptime.Seconds(), Lag: hb.Lag, LastProcessed: hb.LastProcessed})
		s.Instances++
		// the contracts of a version are those of its most recent heartbeat
		if rec.lastSeen.After(newest) || newest.IsZero() {
			newest = rec.lastSeen
			v.Publishes = sortedUnique(hb.Publishes)
			v.Subscribes = hb.Rivers
			v.Retired = sortedUnique(hb.Retired)
			v.Retiring = hb.Retiring
		}
	}
	for i := range out {
		for j := range out[i].Versions {
			v := &out[i].Versions[j]
			if v.Publishes == nil {
				v.Publishes = []string{}
			}
			if v.Subscribes == nil {
				v.Subscribes = []River{}
			}
			if v.Retired == nil {
				v.Retired = []string{}
			}
			if v.Retiring == nil {
				v.Retiring = []Notice{}
			}
		}
	}
	return out
}

// Service returns one service by name.
func (r *Registry) Service(name string) (Service, bool) {
	for _, s := range r.Services() {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Graph derives the demand graph: for each event type its producers and
// consumers (a river with no types or "*" consumes every known type), and
// the edges between service versions.
func (r *Registry) Graph() Graph {
	return BuildGraph(r.Services())
}

// Types returns the event types of the demand graph.
func (r *Registry) Types() []Type { return r.Graph().Types }

// BuildGraph derives the demand graph from a services view.
func BuildGraph(services []Service) Graph {
	types := map[string]*Type{}
	get := func(t string) *Type {
		if types[t] == nil {
			types[t] = &Type{Type: t, Producers: []Endpoint{}, Consumers: []Consumer{}, RetiredBy: []string{}}
		}
		return types[t]
	}
	g := Graph{Nodes: []Node{}, Edges: []Edge{}}
	for _, s := range services {
		for _, v := range s.Versions {
			g.Nodes = append(g.Nodes, Node{ID: ID(s.Name, v.Version), Service: s.Name, Version: v.Version})
			ep := Endpoint{Service: s.Name, Version: v.Version, Instances: len(v.Instances)}
			for _, t := range v.Publishes {
				get(t).Producers = append(get(t).Producers, ep)
			}
			for _, t := range v.Retired {
				get(t).RetiredBy = append(get(t).RetiredBy, ID(s.Name, v.Version))
			}
		}
	}
	// consumers after producers, so wildcard rivers see every published type
	for _, s := range services {
		for _, v := range s.Versions {
			ep := Endpoint{Service: s.Name, Version: v.Version, Instances: len(v.Instances)}
			for _, rv := range v.Subscribes {
				for _, t := range expand(rv.Types, types) {
					tt := get(t)
					if slices.ContainsFunc(tt.Consumers, func(c Consumer) bool {
						return c.Endpoint == ep && c.Topic == rv.Topic && c.Passive == rv.Passive
					}) {
						continue
					}
					tt.Consumers = append(tt.Consumers, Consumer{Endpoint: ep, Topic: rv.Topic, Passive: rv.Passive})
					if !rv.Passive {
						tt.Active++
					}
				}
			}
		}
	}
	for _, t := range types {
		for _, p := range t.Producers {
			for _, c := range t.Consumers {
				g.Edges = append(g.Edges, Edge{From: ID(p.Service, p.Version), To: ID(c.Service, c.Version), Type: t.Type, Passive: c.Passive})
			}
		}
		g.Types = append(g.Types, *t)
	}
	slices.SortFunc(g.Types, func(a, b Type) int { return cmp.Compare(a.Type, b.Type) })
	slices.SortFunc(g.Edges, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	if g.Types == nil {
		g.Types = []Type{}
	}
	return g
}

// expand resolves a river's type patterns: exact types stay, "*" (or no
// types) matches every published type, "prefix.*" the published types with
// that prefix.
func expand(patterns []string, known map[string]*Type) []string {
	var out []string
	if len(patterns) == 0 {
		patterns = []string{Wildcard}
	}
	for _, p := range patterns {
		prefix, isPattern := strings.CutSuffix(p, Wildcard)
		if !isPattern {
			out = append(out, p)
			continue
		}
		for t := range known {
			if strings.HasPrefix(t, prefix) {
				out = append(out, t)
			}
		}
	}
	return sortedUnique(out)
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
