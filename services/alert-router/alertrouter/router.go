package alertrouter

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors of the router.
var (
	// ErrNotFound: an unknown silence or notification id.
	ErrNotFound = errors.New("not found")
	// ErrKeyMissing: a raising event lacks a key field of its alert.
	ErrKeyMissing = errors.New("key field missing")
)

// Input is an event as the router sees it: its attributes, the data
// fields the rules name (label name → value, absent fields left out) and
// its payload.
type Input struct {
	ID, Type, Source, Subject string
	Time                      time.Time
	Fields                    map[string]string
	Data                      json.RawMessage
}

// Router holds the alerts, groups, silences and outbox in memory and
// writes every change through to its Store before it returns. It is safe
// for concurrent use.
type Router struct {
	cfg     Config
	rules   *Rules
	store   Store
	senders map[string]Sender
	log     *slog.Logger
	m       *metrics

	mu       sync.Mutex
	alerts   map[string]*Alert
	groups   map[string]*group
	silences map[string]*Silence
	outbox   map[string]*Notification
	dead     map[string]*Notification
	dlq      map[string]*dlqState
}

func newRouter(ctx context.Context, cfg Config, rules *Rules, store Store, senders map[string]Sender, log *slog.Logger, m *metrics) (*Router, error) {
	r := &Router{cfg: cfg, rules: rules, store: store, senders: senders, log: log, m: m,
		alerts: map[string]*Alert{}, groups: map[string]*group{}, silences: map[string]*Silence{},
		outbox: map[string]*Notification{}, dead: map[string]*Notification{}, dlq: map[string]*dlqState{}}
	if err := errors.Join(
		load(ctx, store, collAlerts, r.alerts),
		load(ctx, store, collGroups, r.groups),
		load(ctx, store, collSilences, r.silences),
		load(ctx, store, collOutbox, r.outbox),
		load(ctx, store, collDead, r.dead),
		load(ctx, store, collDLQ, r.dlq),
	); err != nil {
		return nil, fmt.Errorf("alert-router: loading state: %w", err)
	}
	for id, s := range r.silences {
		ms, err := ParseMatchers(s.Matchers)
		if err != nil {
			log.Error("stored silence ignored", "silence", id, "err", err)
			delete(r.silences, id)
			continue
		}
		s.matchers = canonicalMatchers(ms)
	}
	return r, nil
}

func load[T any](ctx context.Context, s Store, coll string, into map[string]*T) error {
	recs, err := s.All(ctx, coll)
	if err != nil {
		return err
	}
	for id, b := range recs {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s %s: %w", coll, id, err)
		}
		into[id] = v
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs and maps are stored
	}
	return b
}

// labelsOf returns the labels of in as an alert of kind k would carry them.
func labelsOf(k *Kind, in Input) map[string]string {
	l := make(map[string]string, len(in.Fields)+5)
	maps.Copy(l, in.Fields)
	l["alertname"] = k.Name
	l["type"] = in.Type
	l["source"] = in.Source
	if in.Subject != "" {
		l["subject"] = in.Subject
	}
	l["severity"] = k.Severity
	return l
}

func fingerprint(name string, vals []string) string {
	h := sha256.New()
	h.Write([]byte(name))
	for _, v := range vals {
		h.Write([]byte{0})
		h.Write([]byte(v))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func summary(k *Kind, labels map[string]string) string {
	s := k.Summary
	if s == "" {
		parts := []string{k.Name}
		for _, f := range k.Key {
			parts = append(parts, f+"="+labels[f])
		}
		return strings.Join(parts, " ")
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		j := strings.IndexByte(s[max(i, 0):], '}')
		if i < 0 || j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name := s[i+1 : i+j]
		if v, ok := labels[canonical(name)]; ok {
			b.WriteString(v)
		} else {
			b.WriteString("?")
		}
		s = s[i+j+1:]
	}
}

// Observe applies an event: it raises (or de-duplicates) the alerts its
// type raises and resolves those it resolves. A raising event without a
// key field is a permanent error (the caller dead-letters it). The change
// is stored before Observe returns.
func (r *Router) Observe(ctx context.Context, now time.Time, in Input) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b Batch
	alerts := map[string]*Alert{}
	groups := map[string]*group{}
	var errs []error
	for _, k := range r.rules.raise[in.Type] {
		if err := r.raise(now, k, in, alerts, groups); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range r.rules.resolve[in.Type] {
		r.resolveBy(now, k, in, alerts, groups)
	}
	if len(alerts) == 0 && len(groups) == 0 {
		return errors.Join(errs...)
	}
	for fp, a := range alerts {
		b.put(collAlerts, fp, mustJSON(a))
	}
	for key, g := range groups {
		b.put(collGroups, key, mustJSON(g))
	}
	if err := r.store.Write(ctx, b); err != nil {
		return err // retried by the SDK: nothing changed
	}
	maps.Copy(r.alerts, alerts)
	maps.Copy(r.groups, groups)
	return errors.Join(errs...)
}

// clone of an alert or group: changes are made on clones and kept only
// once stored.
func cloneAlert(a *Alert) *Alert {
	c := *a
	c.Labels = maps.Clone(a.Labels)
	c.Groups = slices.Clone(a.Groups)
	return &c
}

func cloneGroup(g *group) *group {
	c := *g
	c.Labels = maps.Clone(g.Labels)
	c.Members = maps.Clone(g.Members)
	c.Receivers = slices.Clone(g.Receivers)
	return &c
}

func (r *Router) alertFor(fp string, changed map[string]*Alert) *Alert {
	if a, ok := changed[fp]; ok {
		return a
	}
	if a, ok := r.alerts[fp]; ok {
		c := cloneAlert(a)
		changed[fp] = c
		return c
	}
	return nil
}

func (r *Router) groupFor(key string, changed map[string]*group) *group {
	if g, ok := changed[key]; ok {
		return g
	}
	if g, ok := r.groups[key]; ok {
		c := cloneGroup(g)
		changed[key] = c
		return c
	}
	return nil
}

func (r *Router) raise(now time.Time, k *Kind, in Input, alerts map[string]*Alert, groups map[string]*group) error {
	labels := labelsOf(k, in)
	if !matchAll(k.when, labels) {
		return nil
	}
	vals := make([]string, len(k.Key))
	for i, f := range k.Key {
		v, ok := labels[f]
		if !ok || v == "" {
			r.m.invalid(in.Type, "key_missing")
			return fmt.Errorf("alert %s: event %s (%s) lacks key field %q, so it cannot be told apart from other %s alerts: %w",
				k.Name, in.ID, in.Type, f, k.Name, ErrKeyMissing)
		}
		vals[i] = v
	}
	fp := fingerprint(k.Name, vals)
	if a := r.alertFor(fp, alerts); a != nil && a.State == StateFiring {
		if a.EventID == in.ID {
			delete(alerts, fp) // the same event again (a redelivery): nothing to do
			return nil
		}
		a.Events++
		a.UpdatedAt, a.EventID, a.Data = now, in.ID, in.Data
		a.Labels, a.Summary = labels, summary(k, labels)
		r.m.duplicates.add(k.Name)
		return nil
	}
	a := &Alert{Fingerprint: fp, Name: k.Name, Labels: labels, Summary: summary(k, labels), State: StateFiring,
		StartsAt: in.Time, UpdatedAt: now, Events: 1, EventID: in.ID, Data: in.Data}
	for _, rt := range r.rules.route(labels) {
		key, gl := groupKey(rt, labels)
		g := r.groupFor(key, groups)
		if g == nil {
			g = &group{Key: key, Route: rt.Name, Labels: gl, Receivers: rt.Receivers, Members: map[string]string{}}
			groups[key] = g
		}
		if _, ok := g.Members[fp]; !ok {
			g.Members[fp] = ""
		}
		if g.PendingSince.IsZero() {
			g.PendingSince = now
		}
		a.Groups = append(a.Groups, key)
	}
	if len(a.Groups) == 0 {
		r.m.unrouted.add(k.Name)
	}
	alerts[fp] = a
	r.m.raised.add(k.Name)
	return nil
}

func (r *Router) resolveBy(now time.Time, k *Kind, in Input, alerts map[string]*Alert, groups map[string]*group) {
	labels := labelsOf(k, in)
	if !matchAll(k.resolveWhen, labels) {
		return
	}
	on := k.ResolvedBy.On
	want := make(map[string]string, len(on))
	for _, f := range on {
		v, ok := labels[f]
		if !ok {
			r.m.invalid(in.Type, "resolver_field_missing")
			return
		}
		want[f] = v
	}
	var fps []string
	if slices.Equal(on, k.Key) { // the common case: no scan
		vals := make([]string, len(on))
		for i, f := range on {
			vals[i] = want[f]
		}
		fps = []string{fingerprint(k.Name, vals)}
	} else {
		for fp, a := range r.alerts {
			if a.Name == k.Name && a.State == StateFiring && labelsEqual(a.Labels, want) {
				fps = append(fps, fp)
			}
		}
	}
	for _, fp := range fps {
		a := r.alertFor(fp, alerts)
		if a == nil {
			continue
		}
		if a.State != StateFiring {
			delete(alerts, fp)
			continue
		}
		r.resolve(now, a, in.Time, in.ID, groups)
		r.m.resolved.add(k.Name, "event")
	}
}

func labelsEqual(l, want map[string]string) bool {
	for k, v := range want {
		if l[k] != v {
			return false
		}
	}
	return true
}

// resolve marks a (cloned) alert resolved and its groups pending.
func (r *Router) resolve(now time.Time, a *Alert, at time.Time, by string, groups map[string]*group) {
	a.State, a.EndsAt, a.ResolvedBy, a.UpdatedAt = StateResolved, at, by, now
	for _, key := range a.Groups {
		if g := r.groupFor(key, groups); g != nil && g.PendingSince.IsZero() {
			g.PendingSince = now
		}
	}
}

// route returns the routes an alert with labels goes to.
func (r *Rules) route(labels map[string]string) []*Route {
	var out []*Route
	for _, rt := range r.Routes {
		if !matchAll(rt.match, labels) {
			continue
		}
		out = append(out, rt)
		if !rt.Continue {
			break
		}
	}
	return out
}

func groupKey(rt *Route, labels map[string]string) (string, map[string]string) {
	gl := map[string]string{}
	if slices.Contains(rt.GroupBy, "...") {
		gl = maps.Clone(labels)
	} else {
		for _, g := range rt.GroupBy {
			gl[g] = labels[g]
		}
	}
	keys := sortedKeys(gl)
	var b strings.Builder
	b.WriteString(rt.Name + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(gl[k]))
	}
	b.WriteByte('}')
	return b.String(), gl
}

// silencedBy returns the ids of the active silences that mute labels.
func (r *Router) silencedBy(now time.Time, labels map[string]string) []string {
	var ids []string
	for id, s := range r.silences {
		if s.Active(now) && matchAll(s.matchers, labels) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// inhibited returns the fingerprints of firing alerts an inhibit rule mutes.
func (r *Router) inhibited() map[string]bool {
	out := map[string]bool{}
	for _, in := range r.rules.Inhibits {
		sources := map[string][]string{} // equal values → source fingerprints
		for fp, a := range r.alerts {
			if a.State == StateFiring && matchAll(in.source, a.Labels) {
				t := tuple(a.Labels, in.Equal)
				sources[t] = append(sources[t], fp)
			}
		}
		if len(sources) == 0 {
			continue
		}
		for fp, a := range r.alerts {
			if a.State != StateFiring || !matchAll(in.target, a.Labels) {
				continue
			}
			if src := sources[tuple(a.Labels, in.Equal)]; len(src) > 1 || (len(src) == 1 && src[0] != fp) {
				out[fp] = true
			}
		}
	}
	return out
}

func tuple(l map[string]string, names []string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(strconv.Quote(l[n]))
		b.WriteByte(0)
	}
	return b.String()
}

// Tick resolves timed-out alerts, forgets old ones, turns the groups that
// are due into notifications in the outbox, and stores all of it.
func (r *Router) Tick(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	alerts := map[string]*Alert{}
	groups := map[string]*group{}
	var b Batch
	// Timeouts and retention.
	for fp, a := range r.alerts {
		k, _ := r.rules.Kind(a.Name)
		switch {
		case a.State == StateFiring && k != nil && k.ResolveAfter > 0 && now.Sub(a.UpdatedAt) >= time.Duration(k.ResolveAfter):
			c := r.alertFor(fp, alerts)
			r.resolve(now, c, now, "timeout", groups)
			r.m.resolved.add(a.Name, "timeout")
		case a.State == StateResolved && now.Sub(a.UpdatedAt) >= r.cfg.ResolvedRetention:
			b.del(collAlerts, fp)
		}
	}
	for id, s := range r.silences {
		if now.Sub(s.EndsAt) >= r.cfg.ResolvedRetention {
			b.del(collSilences, id)
		}
	}
	// The state as it will be: stored alerts with this tick's changes.
	view := func(fp string) *Alert {
		if a, ok := alerts[fp]; ok {
			return a
		}
		if slices.Contains(b.Delete[collAlerts], fp) {
			return nil
		}
		return r.alerts[fp]
	}
	inhibited := r.inhibited()
	var notes []*Notification
	for key := range r.groups {
		g := r.groupFor(key, groups)
		var show []*Alert
		changed, firing := false, false
		for fp, notified := range g.Members {
			a := view(fp)
			if a == nil {
				delete(g.Members, fp) // forgotten
				continue
			}
			if a.State == StateResolved && notified != StateFiring {
				if notified == "" || notified == StateResolved {
					delete(g.Members, fp) // resolved before anyone was told: nothing to say
				}
				continue
			}
			if inhibited[fp] || len(r.silencedBy(now, a.Labels)) > 0 {
				continue
			}
			show = append(show, a)
			if a.State == StateFiring {
				firing = true
			}
			if a.State != notified {
				changed = true
			}
		}
		rt := r.rules.routeNamed(g.Route)
		if rt == nil { // the route left the rules: drop the group
			b.del(collGroups, key)
			delete(groups, key)
			continue
		}
		due, repeat := false, false
		switch {
		case changed && g.LastNotified.IsZero():
			if g.PendingSince.IsZero() {
				g.PendingSince = now
			}
			due = now.Sub(g.PendingSince) >= time.Duration(rt.GroupWait)
		case changed:
			due = now.Sub(g.LastNotified) >= time.Duration(rt.GroupInterval)
		case firing && !g.LastNotified.IsZero():
			due = now.Sub(g.LastNotified) >= time.Duration(rt.RepeatInterval)
			repeat = due
		}
		if due {
			g.Seq++
			notes = append(notes, r.notifications(now, g, show, repeat)...)
			for _, a := range show {
				if a.State == StateFiring {
					g.Members[a.Fingerprint] = StateFiring
				} else {
					delete(g.Members, a.Fingerprint)
				}
			}
			g.LastNotified, g.PendingSince = now, time.Time{}
		}
		if len(g.Members) == 0 {
			b.del(collGroups, key)
			delete(groups, key)
			continue
		}
		if !due && !changed && maps.Equal(g.Members, r.groups[key].Members) && g.PendingSince.Equal(r.groups[key].PendingSince) {
			delete(groups, key) // untouched
		}
	}
	for fp, a := range alerts {
		b.put(collAlerts, fp, mustJSON(a))
	}
	for key, g := range groups {
		b.put(collGroups, key, mustJSON(g))
	}
	for _, n := range notes {
		b.put(collOutbox, n.ID, mustJSON(n))
	}
	if err := r.store.Write(ctx, b); err != nil {
		return err
	}
	for _, fp := range b.Delete[collAlerts] {
		delete(r.alerts, fp)
	}
	for _, id := range b.Delete[collSilences] {
		delete(r.silences, id)
	}
	for _, key := range b.Delete[collGroups] {
		delete(r.groups, key)
	}
	maps.Copy(r.alerts, alerts)
	maps.Copy(r.groups, groups)
	for _, n := range notes {
		r.outbox[n.ID] = n
		r.m.notifications.add(n.Receiver, n.Status)
	}
	return nil
}

func (r *Rules) routeNamed(name string) *Route {
	for _, rt := range r.Routes {
		if rt.Name == name {
			return rt
		}
	}
	return nil
}

// notifications makes one notification per receiver of g.
func (r *Router) notifications(now time.Time, g *group, show []*Alert, repeat bool) []*Notification {
	sort.Slice(show, func(i, j int) bool {
		if show[i].State != show[j].State {
			return show[i].State == StateFiring
		}
		if !show[i].StartsAt.Equal(show[j].StartsAt) {
			return show[i].StartsAt.Before(show[j].StartsAt)
		}
		return show[i].Fingerprint < show[j].Fingerprint
	})
	status := StateResolved
	if len(show) > 0 && show[0].State == StateFiring {
		status = StateFiring
	}
	list := make([]Alert, 0, min(len(show), r.cfg.MaxAlerts))
	for _, a := range show[:min(len(show), r.cfg.MaxAlerts)] {
		c := *cloneAlert(a)
		c.Groups = nil
		list = append(list, c)
	}
	var out []*Notification
	for _, rc := range g.Receivers {
		id := fingerprint(g.Key, []string{strconv.Itoa(g.Seq), rc})
		out = append(out, &Notification{ID: id, Receiver: rc, Route: g.Route, GroupKey: g.Key,
			GroupLabels: maps.Clone(g.Labels), Status: status, Repeat: repeat, Alerts: list,
			Truncated: len(show) - len(list), CreatedAt: now, NextAttempt: now})
	}
	return out
}

// maxPerTick bounds the deliveries one tick attempts, so a tick ends well
// within the handler timeout even with slow receivers.
const maxPerTick = 16

// Deliver attempts the outbox's due notifications: delivered ones leave it,
// failed ones wait a backoff, and those out of attempts (or refused for
// good) move to the dead letters. Every attempt is recorded in the history.
func (r *Router) Deliver(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	var due []*Notification
	for _, n := range r.outbox {
		if !n.NextAttempt.After(now) {
			due = append(due, n)
		}
	}
	r.mu.Unlock()
	sort.Slice(due, func(i, j int) bool {
		if !due[i].CreatedAt.Equal(due[j].CreatedAt) {
			return due[i].CreatedAt.Before(due[j].CreatedAt)
		}
		return due[i].ID < due[j].ID
	})
	var errs []error
	for _, n := range due[:min(len(due), maxPerTick)] {
		if ctx.Err() != nil {
			break
		}
		errs = append(errs, r.attempt(ctx, now, n))
	}
	return errors.Join(errs...)
}

func (r *Router) attempt(ctx context.Context, now time.Time, n *Notification) error {
	s := r.senders[n.Receiver]
	kind := "unknown"
	var err error
	start := time.Now()
	if s == nil {
		err = &PermanentError{fmt.Errorf("receiver %q is not in the rules any more", n.Receiver)}
	} else {
		kind = s.Kind()
		sctx, cancel := context.WithTimeout(ctx, r.cfg.DeliveryTimeout)
		err = s.Send(sctx, n)
		cancel()
	}
	took := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.outbox[n.ID]; !ok {
		return nil // retried or removed meanwhile
	}
	c := *n
	c.Attempts++
	d := Delivery{NotificationID: n.ID, Receiver: n.Receiver, Kind: kind, GroupKey: n.GroupKey, Attempt: c.Attempts,
		Alerts: len(n.Alerts) + n.Truncated, At: now, DurationMS: float64(took.Microseconds()) / 1000}
	var b Batch
	b.Keep = r.cfg.History
	switch {
	case err == nil:
		d.Status = DeliveryDelivered
		b.del(collOutbox, n.ID)
	case IsPermanent(err) || c.Attempts >= r.cfg.DeliveryAttempts:
		d.Status, d.Error = DeliveryDead, err.Error()
		c.LastError, c.NextAttempt = err.Error(), time.Time{}
		b.del(collOutbox, n.ID)
		b.put(collDead, n.ID, mustJSON(&c))
	default:
		d.Status, d.Error = DeliveryRetrying, err.Error()
		c.LastError = err.Error()
		c.NextAttempt = now.Add(backoff(r.cfg, c.Attempts))
		b.put(collOutbox, n.ID, mustJSON(&c))
	}
	b.appendTo(listHistory, mustJSON(d))
	if werr := r.store.Write(ctx, b); werr != nil {
		return werr // the notification stays due: tried again next tick
	}
	r.m.delivered(kind, n.Receiver, d.Status, took)
	switch d.Status {
	case DeliveryDelivered:
		delete(r.outbox, n.ID)
	case DeliveryDead:
		delete(r.outbox, n.ID)
		r.dead[n.ID] = &c
		r.log.Error("notification dead-lettered: receiver failed", "receiver", n.Receiver, "kind", kind,
			"notification", n.ID, "group", n.GroupKey, "attempts", c.Attempts, "err", err,
			"retry", "POST /v1/dead/"+n.ID+"/retry")
	default:
		r.outbox[n.ID] = &c
		r.log.Warn("notification delivery failed; will retry", "receiver", n.Receiver, "notification", n.ID,
			"attempt", c.Attempts, "next", c.NextAttempt, "err", err)
	}
	return nil
}

func backoff(cfg Config, attempts int) time.Duration {
	d := cfg.DeliveryBackoff
	for i := 1; i < attempts && d < cfg.DeliveryMaxBackoff; i++ {
		d *= 2
	}
	return min(d, cfg.DeliveryMaxBackoff)
}

// Alerts returns every alert (with silences and inhibition filled in),
// firing first, newest first.
func (r *Router) Alerts(now time.Time) []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	inh := r.inhibited()
	out := make([]Alert, 0, len(r.alerts))
	for fp, a := range r.alerts {
		c := *cloneAlert(a)
		c.Inhibited = inh[fp]
		c.SilencedBy = r.silencedBy(now, a.Labels)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].State != out[j].State {
			return out[i].State == StateFiring
		}
		if !out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].StartsAt.After(out[j].StartsAt)
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out
}

// AddSilence validates and stores a silence; StartsAt defaults to now.
func (r *Router) AddSilence(ctx context.Context, now time.Time, s Silence) (Silence, error) {
	ms, err := ParseMatchers(s.Matchers)
	if err != nil {
		return Silence{}, err
	}
	if len(ms) == 0 {
		return Silence{}, errors.New("a silence needs at least one matcher, e.g. transformer_id=\"TX-0042\"")
	}
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	if !s.EndsAt.After(s.StartsAt) || !s.EndsAt.After(now) {
		return Silence{}, fmt.Errorf("ends_at %s must be after starts_at %s and in the future", s.EndsAt.Format(time.RFC3339), s.StartsAt.Format(time.RFC3339))
	}
	if strings.TrimSpace(s.CreatedBy) == "" {
		return Silence{}, errors.New("created_by is empty: say who silences")
	}
	s.matchers = canonicalMatchers(ms)
	s.Matchers = make([]string, len(ms))
	for i, m := range s.matchers {
		s.Matchers[i] = m.String()
	}
	s.ID, s.CreatedAt = newID(), now
	r.mu.Lock()
	defer r.mu.Unlock()
	var b Batch
	b.put(collSilences, s.ID, mustJSON(&s))
	if err := r.store.Write(ctx, b); err != nil {
		return Silence{}, err
	}
	r.silences[s.ID] = &s
	return s, nil
}

// ExpireSilence ends a silence now.
func (r *Router) ExpireSilence(ctx context.Context, now time.Time, id string) (Silence, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.silences[id]
	if !ok {
		return Silence{}, fmt.Errorf("silence %s: %w", id, ErrNotFound)
	}
	c := *s
	if c.EndsAt.After(now) {
		c.EndsAt = now
	}
	var b Batch
	b.put(collSilences, id, mustJSON(&c))
	if err := r.store.Write(ctx, b); err != nil {
		return Silence{}, err
	}
	r.silences[id] = &c
	return c, nil
}

// Silences returns every silence, newest first.
func (r *Router) Silences() []Silence {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Silence, 0, len(r.silences))
	for _, s := range r.silences {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// Deliveries returns up to n recorded attempts, newest first.
func (r *Router) Deliveries(ctx context.Context, n int) ([]Delivery, error) {
	raw, err := r.store.List(ctx, listHistory, n)
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(raw))
	for _, b := range raw {
		var d Delivery
		if json.Unmarshal(b, &d) == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// Pending returns the outbox (waiting) or the dead letters, oldest first.
func (r *Router) Pending(dead bool) []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	src := r.outbox
	if dead {
		src = r.dead
	}
	out := make([]Notification, 0, len(src))
	for _, n := range src {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// Retry moves a dead notification back to the outbox, due now, with its
// attempts reset.
func (r *Router) Retry(ctx context.Context, now time.Time, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.dead[id]
	if !ok {
		return fmt.Errorf("dead notification %s: %w", id, ErrNotFound)
	}
	c := *n
	c.Attempts, c.NextAttempt, c.LastError = 0, now, ""
	var b Batch
	b.del(collDead, id)
	b.put(collOutbox, id, mustJSON(&c))
	if err := r.store.Write(ctx, b); err != nil {
		return err
	}
	delete(r.dead, id)
	r.outbox[id] = &c
	return nil
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// canonical is the label a name refers to: attributes stay, "data.x" is
// "x" unless x is an attribute name.
func canonical(n string) string {
	if isAttribute(n) {
		return n
	}
	p := strings.TrimPrefix(n, "data.")
	if isAttribute(p) {
		return "data." + p
	}
	return p
}

func canonicalMatchers(ms []Matcher) []Matcher {
	for i := range ms {
		ms[i].Name = canonical(ms[i].Name)
	}
	return ms
}
