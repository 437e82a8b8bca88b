// Package registry is the discovery service, built only from
// system.heartbeat.v1: services, their versions side by side, instances,
// what each publishes and the river contracts each subscribes with. It
// derives the demand graph: for each event type its producers
// (service@version) and consumers (active or passive; a "*" or "prefix.*"
// river consumes every matching published type).
//
// [Registry.Routes] serves it as JSON:
//
//	GET /v1/services          {"services": [...]}
//	GET /v1/services/{name}   one service, 404 when unknown
//	GET /v1/types             {"types": [...]}
//	GET /v1/graph             {"nodes", "edges", "types"}
//
// [Register] builds the service: passive rivers of system.heartbeat.v1 and
// system.service.stopping.v1 ([Watch], also used by the demand tracker)
// and the routes mounted on the rivers service's HTTP server (HTTP_ADDR,
// next to /healthz, /readyz and /metrics).
//
// Environment variables (defaults):
//
//	REGISTRY_INSTANCE_TTL      30s   an instance silent this long is dropped
//	REGISTRY_EXPIRE_INTERVAL   5s    how often silent instances are dropped
package registry
