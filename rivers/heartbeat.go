package rivers

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// Heartbeat returns the service's current system.heartbeat.v1 payload: what
// it publishes every Config.HeartbeatInterval.
func (s *Service) Heartbeat(ctx context.Context) events.Heartbeat {
	now := s.clock.Now()
	s.mu.Lock()
	started := s.startedAt
	s.mu.Unlock()
	retired, all := s.retire.list(now)
	var notices []events.RetirementNotice
	for _, r := range all {
		if r.Phase == events.PhaseNotice {
			notices = append(notices, events.RetirementNotice{Type: r.Type, EffectiveAt: r.EffectiveAt.UTC(), Reason: r.Reason})
		}
	}
	if started.IsZero() { // not serving yet
		started = now
	}
	hb := events.Heartbeat{
		Service:           s.cfg.Name,
		Version:           s.cfg.Version,
		Instance:          s.cfg.Instance,
		StartedAt:         started.UTC(),
		UptimeSeconds:     max(now.Sub(started).Seconds(), 0),
		IntervalSeconds:   s.cfg.HeartbeatInterval.Seconds(),
		Publishes:         s.publishesList(now),
		Subscribes:        s.Subscriptions(),
		Retired:           retired,
		Retiring:          notices,
		ProcessedTotal:    int(s.processed.Load()),
		DeadLetteredTotal: int(s.deadTotal.Load()),
		ExpiredTotal:      int(s.expTotal.Load()),
		Ready:             s.Ready(ctx) == nil,
	}
	if rt := s.runtimeRef(); rt != nil && rt.sub != nil {
		hb.LagRecords = int(max(lagOf(rt.sub), 0))
	}
	if ns := s.tel.lastProcessed.Load(); ns != 0 {
		hb.LastProcessedAt = time.Unix(0, ns).UTC()
	}
	return hb
}

// Subscriptions describes the service's rivers as heartbeats publish them:
// types, topic, group, declared keys, passive. Type patterns ("system.*")
// are expanded over the catalog's types; a river whose patterns match no
// known type is left out.
func (s *Service) Subscriptions() []events.Subscription {
	s.mu.Lock()
	entries := slices.Clone(s.rivers)
	s.mu.Unlock()
	var known []string
	if tl, ok := s.validator.(TypeLister); ok {
		known = tl.Types()
	}
	out := make([]events.Subscription, 0, len(entries))
	for _, e := range entries {
		r := e.river
		types := slices.Clone(r.types)
		for _, p := range r.prefixes {
			for _, k := range known {
				if strings.HasPrefix(k, p) && !slices.Contains(types, k) {
					types = append(types, k)
				}
			}
		}
		if len(types) == 0 {
			continue
		}
		slices.Sort(types)
		sub := events.Subscription{Types: types, Topic: e.topic, Group: s.cfg.Group, Passive: r.passive}
		for _, rule := range r.require {
			if len(rule.values) == 1 {
				if sub.RequireValues == nil {
					sub.RequireValues = map[string]any{}
				}
				sub.RequireValues[rule.key] = rule.values[0]
			} else {
				sub.Require = append(sub.Require, rule.key)
			}
		}
		for _, rule := range r.forbid {
			if len(rule.values) == 0 {
				sub.Forbid = append(sub.Forbid, rule.key)
			} else {
				sub.Interested = append(sub.Interested, rule.key)
			}
		}
		sub.Interested = append(sub.Interested, r.interested...)
		out = append(out, sub)
	}
	return out
}

// startHeartbeats publishes a heartbeat now and every interval. After the
// first, heartbeats go to the transport directly, not through the sender:
// behind a busy service's outgoing events they arrived seconds late, and a
// monitor took the service for down. The next one is scheduled before this
// one is sent, so a slow broker does not stretch the interval either.
func (s *Service) startHeartbeats(rt *runtime) {
	s.enqueueSystem(rt, typeHeartbeat, s.Heartbeat(rt.hard), false)
	var beat func()
	beat = func() {
		s.schedule(rt, s.cfg.HeartbeatInterval, beat)
		s.sendHeartbeat(rt)
	}
	s.schedule(rt, s.cfg.HeartbeatInterval, beat)
}

// sendHeartbeat publishes one heartbeat, waiting at most an interval for
// the broker: a heartbeat later than the next is worth nothing.
func (s *Service) sendHeartbeat(rt *runtime) {
	rec, err := s.build(rt.hard, nil, typeHeartbeat, s.Heartbeat(rt.hard), nil)
	if err != nil {
		s.log.Error("cannot build a system event", "type", typeHeartbeat, "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(rt.hard, s.cfg.HeartbeatInterval)
	defer cancel()
	if err := rt.send.tr.Publish(ctx, rec); err != nil && rt.hard.Err() == nil {
		s.log.Warn("system event not sent", "type", typeHeartbeat, "error", err)
	}
}

func (s *Service) announceStarted(rt *runtime) {
	host, _ := os.Hostname()
	s.enqueueSystem(rt, typeStarted, events.ServiceStarted{
		Service: s.cfg.Name, Version: s.cfg.Version, Instance: s.cfg.Instance,
		StartedAt: s.startedAt.UTC(), Host: host, Pid: os.Getpid(),
	}, false)
}

func (s *Service) announceStopping(rt *runtime, reason string) {
	now := s.clock.Now()
	s.enqueueSystem(rt, typeStopping, events.ServiceStopping{
		Service: s.cfg.Name, Version: s.cfg.Version, Instance: s.cfg.Instance,
		Reason: truncate(reason, 1000), StoppingAt: now.UTC(),
		UptimeSeconds:       max(now.Sub(s.startedAt).Seconds(), 0),
		DrainTimeoutSeconds: s.cfg.ShutdownTimeout.Seconds(),
	}, false)
}

// enqueueSystem publishes one of the SDK's own events; wait says whether to
// wait for the acknowledgement.
func (s *Service) enqueueSystem(rt *runtime, typ string, payload any, wait bool) {
	rec, err := s.build(rt.hard, nil, typ, payload, nil)
	if err != nil {
		s.log.Error("cannot build a system event", "type", typ, "error", err)
		return
	}
	if wait {
		err = rt.send.publish(rt.hard, []Record{rec})
	} else {
		err = rt.send.enqueue(&item{out: []Record{rec}})
	}
	if err != nil {
		s.log.Warn("system event not sent", "type", typ, "error", err)
	}
}

// Topics returns the topics the service's rivers read, sorted.
func (s *Service) Topics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.rivers {
		if !slices.Contains(out, e.topic) {
			out = append(out, e.topic)
		}
	}
	slices.Sort(out)
	return out
}
