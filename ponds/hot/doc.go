// Package hot is the Redis hot pond: the latest state of the grid, kept the
// way its readers query it.
//
// A [Pond] stores meter.reading.v1 events (see [Pond] for the keys): each
// meter's latest reading, its recent window in day buckets that expire at
// the readings' use-by date, and the latest reading of every meter per
// transformer and per feeder. [Pond.Write] takes a batch in one pipelined
// round trip; every write is idempotent and order-independent (a Lua script
// keeps the greatest (read_at, event id)), so no per-event "seen" key is
// needed and replays, duplicates and late reads are harmless.
//
// [DedupStore] is the Redis duplicate store of the rivers SDK (SET NX with
// expiry), and [CheckpointStore] keeps services' checkpoints.
//
// # Configuration
//
// [ConfigFromEnv] reads, with defaults:
//
//	REDIS_URL                       redis://127.0.0.1:6379/0 (rediss:// for TLS, unix:// for a socket)
//	REDIS_USERNAME                  ACL user; overrides the URL's user
//	REDIS_PASSWORD                  overrides the URL's password
//	REDIS_TLS_CA_FILE               PEM CA bundle (default: system roots)
//	REDIS_TLS_CERT_FILE             client certificate for mutual TLS (with REDIS_TLS_KEY_FILE)
//	REDIS_TLS_KEY_FILE              client key for mutual TLS
//	REDIS_TLS_SERVER_NAME           expected server name (default: the URL's host)
//	REDIS_TLS_INSECURE_SKIP_VERIFY  false; true accepts any certificate (tests only)
//	REDIS_DIAL_TIMEOUT              5s
//	REDIS_POOL_SIZE                 0 (go-redis default: 10 per CPU)
//
// A service's Redis user needs the key pattern ~ws:* and the commands
// get set mget hset hget hgetall hkeys hdel zadd zrangebyscore pexpireat del
// evalsha eval script (or +@all on those keys).
//
// The write script touches a meter's keys and its transformer's and
// feeder's views at once: run the hot pond on one Redis primary (with
// replicas or Sentinel), not on Redis Cluster.
package hot
