// Package lagwatch tells a monitor whether it is behind in the stream it
// watches, and says so on the rivers.
//
// A monitor (heartbeat-monitor, registry, demand-tracker) concludes from
// what it has not read: a heartbeat that did not come, a subscriber that
// went away. When it falls behind, heartbeats it has not read yet look
// missing. A [Watch] feeds an [eventtime.Progress] from every record of the
// rivers (a passive river of "*" that reads no payload key) and gives the
// monitor:
//
//   - [Watch.Position]: the monitor's position in the stream, the clock it
//     judges ages against instead of the wall clock;
//   - [Watch.Judge]: whether it may conclude now (caught up: no partition
//     lagging, for the settle time) — otherwise it withholds its verdicts
//     ([Watch.Withhold] counts them);
//   - a system.monitor.lagging.v1 (state lagging) when it finds it is
//     behind, and again (state recovered) when it has caught up.
//
// The watch needs no more than rivers.Delivery (Partition, Behind,
// RecordTime) and rivers.Now, so it works from any handler shape.
package lagwatch
