package heartbeatmonitor

import (
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// BeatFrom converts a system.heartbeat.v1 payload and its ce_time.
func BeatFrom(hb events.Heartbeat, ceTime time.Time) Beat {
	return Beat{Service: hb.Service, Version: hb.Version, Instance: hb.Instance,
		Interval: time.Duration(hb.IntervalSeconds * float64(time.Second)), At: ceTime}
}

// Payload returns the event type and payload that publish tr.
func Payload(tr Transition) (string, any) {
	if tr.Kind == Down {
		return events.TypeServiceDown, events.ServiceDown{
			Service: tr.Service, Instance: tr.Instance, Version: tr.Version,
			LastHeartbeatAt:    tr.LastBeatAt.UTC(),
			MissedHeartbeats:   max(tr.Missed, 1),
			IntervalSeconds:    tr.Interval.Seconds(),
			InstancesRemaining: tr.Remaining,
			DetectedAt:         tr.At.UTC(),
		}
	}
	up := events.ServiceUp{Service: tr.Service, Instance: tr.Instance, Version: tr.Version,
		FirstHeartbeatAt: tr.FirstBeatAt.UTC(), NewService: tr.NewService, DetectedAt: tr.At.UTC()}
	if !tr.DownSince.IsZero() {
		up.DownSince = tr.DownSince.UTC()
		up.DowntimeSeconds = max(tr.FirstBeatAt.Sub(tr.DownSince).Seconds(), 0)
	}
	return events.TypeServiceUp, up
}
