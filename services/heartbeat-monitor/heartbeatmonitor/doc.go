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
// passive rivers of heartbeats and stopping announcements, and a timer
// every HEARTBEAT_CHECK_INTERVAL.
//
// Environment variables (defaults):
//
//	HEARTBEAT_MISSES            3    intervals without a heartbeat before down
//	HEARTBEAT_DEFAULT_INTERVAL  5s   for heartbeats without interval_s
//	HEARTBEAT_CHECK_INTERVAL    1s   how often silent instances are looked for
//	HEARTBEAT_FORGET_AFTER      1h   drop instances down or stopped this long
package heartbeatmonitor
