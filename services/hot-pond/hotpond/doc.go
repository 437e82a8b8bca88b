// Package hotpond is the hot-pond service: stage 1 on the rapids, it
// writes every meter.reading.v1 into the Redis hot pond (package
// ponds/hot: latest reading per meter, per-meter window with a TTL from
// the events' use-by, per-transformer and per-feeder views) and serves
// them over HTTP on the service's port:
//
//	GET /v1/meters/{id}/latest
//	GET /v1/meters/{id}/window?from=RFC3339&to=RFC3339   (default: the 24h before to, or now)
//	GET /v1/transformers/{id}
//	GET /v1/feeders/{id}
//
// The API wants "Authorization: Bearer <HOTPOND_API_TOKEN>". Without a
// token it serves loopback clients only (a developer's `go run`,
// `watershed dev`) and answers 403 to the rest: a container's or pod's API
// stays closed until a token is set.
//
// # Writes and commits
//
// The rivers SDK commits an offset after the handler returns and has no
// deferred acknowledgement, so each reading is written in its handler:
// one pipelined round trip (one EVALSHA) per reading, before the commit.
// Batching across readings would need the SDK to hold commits until a
// batch is written; until it can, throughput is one Redis round trip per
// reading (~0.1 ms on a local network: about 10,000 readings/s per
// replica; scale with partitions and replicas). Writes are idempotent and
// order-independent (the latest is the greatest (read_at, event id)), so
// redelivery after a crash is harmless. With the Redis duplicate store a
// redelivered event is also dropped before the handler.
//
// # Environment
//
//	REDIS_URL                       redis://127.0.0.1:6379/0 (rediss:// for TLS, unix://)
//	REDIS_USERNAME, REDIS_PASSWORD  ACL user (default: the URL's)
//	REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE,
//	REDIS_TLS_SERVER_NAME, REDIS_TLS_INSECURE_SKIP_VERIFY
//	REDIS_DIAL_TIMEOUT              5s
//	REDIS_POOL_SIZE                 go-redis default
//	HOT_POND_DEDUP                  true: the SDK's duplicate store is Redis (SET NX PX DEDUP_WINDOW)
//	HOT_POND_WINDOW_RETENTION       48h: how long a reading stays in its meter's window at most
//	HOTPOND_API_TOKEN               none: the API's bearer token (16+ characters); unset, loopback clients only
//
// plus the rivers SDK's variables (KAFKA_*, HTTP_ADDR, DEDUP_WINDOW, ...).
package hotpond
