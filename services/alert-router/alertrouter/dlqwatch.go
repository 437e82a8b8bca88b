package alertrouter

import (
	"context"
	"strconv"
	"time"

	"github.com/watershed-grid/watershed/rapids"
)

// DLQSizer returns the number of records ever written to each topic (the
// sum of its partitions' end offsets).
type DLQSizer func(ctx context.Context, topics []string) (map[string]int64, error)

// KafkaDLQSizer reads the end offsets of the topics from the brokers of cfg.
func KafkaDLQSizer(cfg rapids.Config) DLQSizer {
	return func(ctx context.Context, topics []string) (map[string]int64, error) {
		ranges, err := rapids.Ranges(ctx, cfg, topics...)
		if err != nil {
			return nil, err
		}
		out := make(map[string]int64, len(topics))
		for _, t := range topics {
			out[t] = 0
		}
		for _, r := range ranges {
			out[r.Topic] += r.End
		}
		return out, nil
	}
}

// dlqState is what the watch remembers of a topic (stored, so a restart
// does not alert on letters it had already seen).
type dlqState struct {
	Letters   int64     `json:"letters"`
	GrewAt    time.Time `json:"grew_at,omitzero"`
	CheckedAt time.Time `json:"checked_at"`
}

// WatchDLQ compares the topics' sizes with the last look: growth by at
// least ALERT_DLQ_MIN_GROWTH raises dlq_growing for the topic (one alert
// per topic, de-duplicated while it keeps growing); ALERT_DLQ_QUIET
// without growth resolves it. The first look only takes the baseline.
func (r *Router) WatchDLQ(ctx context.Context, now time.Time, sizes map[string]int64) error {
	k, ok := r.rules.Kind(AlertDLQGrowing)
	r.mu.Lock()
	var b Batch
	var raise []Input
	var resolve []string
	for topic, n := range sizes {
		s, seen := r.dlq[topic]
		next := dlqState{Letters: n, CheckedAt: now}
		if seen {
			next.GrewAt = s.GrewAt
			if grew := n - s.Letters; grew >= r.cfg.DLQMinGrowth {
				next.GrewAt = now
				raise = append(raise, Input{ID: "dlq:" + topic + ":" + strconv.FormatInt(n, 10), Type: "", Source: "/services/" + Name,
					Time: now, Fields: map[string]string{"topic": topic, "letters": strconv.FormatInt(grew, 10), "total": strconv.FormatInt(n, 10)},
					Data: mustJSON(map[string]any{"topic": topic, "new_letters": grew, "letters": n, "since": s.CheckedAt})})
			} else if !s.GrewAt.IsZero() && now.Sub(s.GrewAt) >= r.cfg.DLQQuiet {
				resolve = append(resolve, topic)
				next.GrewAt = time.Time{}
			}
		}
		b.put(collDLQ, topic, mustJSON(next))
		r.dlq[topic] = &next
	}
	err := r.store.Write(ctx, b)
	r.mu.Unlock()
	if err != nil || !ok {
		return err
	}
	for _, in := range raise {
		if err := r.raiseDirect(ctx, now, k, in); err != nil {
			return err
		}
	}
	for _, topic := range resolve {
		if err := r.resolveDirect(ctx, now, k, map[string]string{"topic": topic}); err != nil {
			return err
		}
	}
	return nil
}

// raiseDirect raises an alert of kind k that no subscribed event carries.
func (r *Router) raiseDirect(ctx context.Context, now time.Time, k *Kind, in Input) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	alerts, groups := map[string]*Alert{}, map[string]*group{}
	if err := r.raise(now, k, in, alerts, groups); err != nil {
		return err
	}
	return r.commit(ctx, alerts, groups)
}

// resolveDirect resolves the firing alerts of kind k with these labels.
func (r *Router) resolveDirect(ctx context.Context, now time.Time, k *Kind, want map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	alerts, groups := map[string]*Alert{}, map[string]*group{}
	for fp, a := range r.alerts {
		if a.Name == k.Name && a.State == StateFiring && labelsEqual(a.Labels, want) {
			r.resolve(now, r.alertFor(fp, alerts), now, "quiet", groups)
			r.m.resolved.add(k.Name, "quiet")
		}
	}
	return r.commit(ctx, alerts, groups)
}

func (r *Router) commit(ctx context.Context, alerts map[string]*Alert, groups map[string]*group) error {
	var b Batch
	for fp, a := range alerts {
		b.put(collAlerts, fp, mustJSON(a))
	}
	for key, g := range groups {
		b.put(collGroups, key, mustJSON(g))
	}
	if err := r.store.Write(ctx, b); err != nil {
		return err
	}
	for fp, a := range alerts {
		r.alerts[fp] = a
	}
	for key, g := range groups {
		r.groups[key] = g
	}
	return nil
}
