package landscape

import (
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// FromEvent converts a system.heartbeat.v1 payload.
func FromEvent(hb events.Heartbeat) Heartbeat {
	out := Heartbeat{
		Service:       hb.Service,
		Version:       hb.Version,
		Instance:      hb.Instance,
		StartedAt:     hb.StartedAt,
		Uptime:        time.Duration(hb.UptimeSeconds * float64(time.Second)),
		Publishes:     hb.Publishes,
		Retired:       hb.Retired,
		Lag:           int64(hb.LagRecords),
		LastProcessed: hb.LastProcessedAt,
	}
	for _, n := range hb.Retiring {
		out.Retiring = append(out.Retiring, Notice{Type: n.Type, EffectiveAt: n.EffectiveAt, Reason: n.Reason})
	}
	for _, s := range hb.Subscribes {
		keys := append(append([]string{}, s.Require...), s.Interested...)
		for k := range s.RequireValues {
			keys = append(keys, k)
		}
		out.Rivers = append(out.Rivers, River{Topic: s.Topic, Types: s.Types, Keys: sortedUnique(keys), Passive: s.Passive})
	}
	return out
}
