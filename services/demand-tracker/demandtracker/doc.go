// Package demandtracker is the demand tracker and publisher retirer:
// amplify success, attenuate failure. From the demand graph of heartbeats
// (see the registry package) it knows, per event type, its producers and
// its active subscribers; passive rivers (archivers, taps, monitors) are
// not demand. A type with no active subscriber for Idle gets a
// system.retirement.v1 notice to each producing service (grace_s = Grace),
// then, after Grace, the retirement; when an active subscriber appears,
// the reinstatement. system.* and essential types never retire. A producer
// whose heartbeat still lists a retired type as published is told again
// every Resend. Every decision is an event.
//
// "May the best service win": events carry no producer version, and
// rivers subscribe by type, not by source, so every live version of a
// producer is equally subscribed. What differs is use: [Volume] reads the
// rivers passively and counts, per type and producer, the events some later
// event names as its cause (ce_causationid) — the output the ecosystem
// actually acted on.
//
// [Register] wires it into a rivers service: the heartbeat rivers of the
// registry package (passive), a timer every DEMAND_EVALUATE_INTERVAL that
// publishes the decisions, the passive volume river, and GET /v1/demand.
//
// Lag never retires a type: instances expire on the tracker's position in
// the stream, not the wall clock (landscape.Watch), and while the tracker is
// behind it decides nothing and publishes system.monitor.lagging.v1 (then
// recovered, after DEMAND_LAG_SETTLE caught up). The volume river reads
// the envelope only, never the payload.
//
// Environment variables (defaults):
//
//	DEMAND_IDLE                10m   no active subscriber this long → notice
//	DEMAND_GRACE               10m   notice → retired
//	DEMAND_ESSENTIAL           ""    comma-separated types or prefix.* never retired
//	DEMAND_RESEND              1m    repeat a retirement to a producer still publishing
//	DEMAND_EVALUATE_INTERVAL   5s    how often decisions are made
//	DEMAND_INSTANCE_TTL        30s   silent instances stop counting
//	DEMAND_COUNT_VOLUME        true  count events per type and producer
//	DEMAND_LAG_TOLERANCE       2s    records behind the last one read this long: behind
//	DEMAND_LAG_SETTLE          5s    caught up this long before deciding again
package demandtracker
