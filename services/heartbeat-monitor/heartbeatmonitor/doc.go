// Package heartbeatmonitor is the heartbeat monitor: it knows every live
// service instance from system.heartbeat.v1 and publishes
// system.service.down.v1 when an instance misses Misses heartbeat intervals
// (its advertised interval_s), and system.service.up.v1 when an instance is
// first heard, returns, or replaces one that went down or announced
// system.service.stopping.v1 (a restart: new_service=false, down_since set
// when the predecessor had been declared down).
//
// [Monitor] is the state machine; it takes the time on every call, so it is
// tested with a fake clock. [Register] wires it into a rivers service:
// passive rivers of heartbeats and stopping announcements, a passive river
// of every type that reads no payload (the monitor's read progress,
// package rivers/lagwatch), and a timer every HEARTBEAT_CHECK_INTERVAL.
//
// # Lag
//
// A heartbeat's age is judged against the monitor's position in the
// stream (the record time up to which it has read everything), never the
// wall clock: a heartbeat is "seen" at the monitor's position when it reads
// it, so ages are measured on the stream's clock and neither the monitor's
// lag nor a producer's skewed clock changes them. A monitor that is
// behind (records stayed behind its last read one for more than
// HEARTBEAT_LAG_TOLERANCE) withholds every down verdict and publishes
// system.monitor.lagging.v1 (state lagging); once it has read to the end
// for HEARTBEAT_LAG_SETTLE it publishes it again (state recovered, with
// how many instances a wall-clock judge would have declared down) and
// judges again. Heartbeats read after their use-by date are dropped by the
// SDK before any handler; the monitor still takes them (through the
// river's expiry hook) as evidence that their instance was alive.
//
// Environment variables (defaults):
//
//	HEARTBEAT_MISSES            3    intervals without a heartbeat before down
//	HEARTBEAT_DEFAULT_INTERVAL  5s   for heartbeats without interval_s
//	HEARTBEAT_CHECK_INTERVAL    1s   how often silent instances are looked for
//	HEARTBEAT_FORGET_AFTER      1h   drop instances down or stopped this long
//	HEARTBEAT_LAG_TOLERANCE     2s   records behind the last one read this long: behind
//	HEARTBEAT_LAG_SETTLE        5s   caught up this long before judging again
package heartbeatmonitor
