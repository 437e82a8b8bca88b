// Package registry is the discovery service: the landscape of services
// that package rivers/landscape builds from system.heartbeat.v1 (services,
// their versions side by side, instances, what each publishes, the river
// contracts each subscribes with, the demand graph), served over HTTP.
//
// [Routes] serves it as JSON:
//
//	GET /v1/services          {"services": [...]}
//	GET /v1/services/{name}   one service, 404 when unknown
//	GET /v1/types             {"types": [...]}
//	GET /v1/graph             {"nodes", "edges", "types"}
//	GET /v1/compare/{service} its versions side by side: answers, chosen,
//	                          accuracy against later actual reads, latency
//
// The comparison ([Comparison]) reads estimate.solution.v1 (every
// version's answers to a need), meter.reading.estimated.v1 (the answer the
// asker chose) and meter.reading.adjusted.v1 (the actual read that came
// later) on passive rivers, and scores every answer to a need once its
// true-up arrives: mean absolute and mean signed error of the register,
// kWh. It remembers the answers of the last 100,000 needs awaiting a
// true-up.
//
// [Register] builds the service: passive rivers of system.heartbeat.v1 and
// system.service.stopping.v1 ([landscape.Watch], also used by the demand tracker)
// and the routes mounted on the rivers service's HTTP server (HTTP_ADDR,
// next to /healthz, /readyz and /metrics).
//
// # Lag
//
// An instance is dropped when silent for the TTL on the registry's
// position in the stream (the record time up to which it has read
// everything; a heartbeat is seen at the position when it is read), not on the wall
// clock. While the registry is behind (records stayed behind the last one
// it read for more than REGISTRY_LAG_TOLERANCE) it drops nobody: an
// instance whose heartbeats it has not read yet is not gone. It publishes
// system.monitor.lagging.v1 then, and again (recovered) after
// REGISTRY_LAG_SETTLE caught up. Heartbeats the SDK drops as expired still
// register their instance. A passive river of every type that reads no
// payload ([RiverLag]) follows the read progress.
//
// Environment variables (defaults):
//
//	REGISTRY_INSTANCE_TTL      30s   an instance silent this long is dropped
//	REGISTRY_EXPIRE_INTERVAL   5s    how often silent instances are dropped
//	REGISTRY_LAG_TOLERANCE     2s    records behind the last one read this long: behind
//	REGISTRY_LAG_SETTLE        5s    caught up this long before dropping again
package registry
