// Package dispatcher is the command dispatcher, stage 3: the self-healing
// command loop of seed 003 — record commands to meters, detect the missing
// acks, replay with a retry limit.
//
// # Flow
//
//	meter.command.requested.v1 ─┐
//	meter.reading.missed.v1 ────┴─► take (Redis, once per command_id)
//	                                   │ timer
//	                                   ▼
//	            meter.command.v1 attempt n ──► simulator / mqtt-gateway ──► meter
//	                                   ▲                                   │
//	       no ack within ack_timeout_s │                                   ▼
//	       + backoff: attempt n+1      └──────── meter.command.ack.v1 ◄────┘
//	                                   │
//	                                   ▼
//	            meter.command.outcome.v1: acknowledged | failed | expired
//
// A request is taken once per command_id (a repeat is a duplicate). A
// meter.reading.missed.v1 becomes a read_now of its slot
// (parameters.read_at = expected_at) with the command id
// RereadID(meter, expected_at), so a slot is re-read once however often it
// is declared missed; runs of more than DISPATCHER_REREAD_MAX_CONSECUTIVE
// missed reads (a silent meter, an outage) are not re-read. The meter
// answers a re-read with the missing reading under its own deterministic id
// (events.ReadingID), so the gap detector sees a late read and publishes
// meter.reading.late.v1: the gap is filled.
//
// Attempts wait ack_timeout_s each, then Backoff·2^(n-1) (at most
// MaxBackoff) before the next. An ack accepted or completed ends the
// command acknowledged (from any attempt: a late ack of attempt 1 still
// means the meter did it); rejected ends it failed at once with the
// meter's reason; failed replays it after the backoff. After max_attempts
// without an ack it ends failed ("no ack after N attempts ..."); past the
// request's use-by (ce_expirytime) it ends expired and is not sent again.
// Attempts carry the use-by, so a meter never acts on a stale command.
//
// # Durability and idempotency
//
// Every command is a Redis hash (RedisStore); due commands are a sorted set.
// Each change is one Lua script that checks the version read, so a handler
// and the timer, or two instances, decide each command once. Publications
// come before the write that records them and have deterministic ids
// (AttemptID, OutcomeID): a crash in between publishes the same event again,
// which consumers drop as a duplicate. A restart therefore neither loses a
// command (it is in Redis before the request's offset is committed) nor
// doubles one. Instances may run side by side; each scans the whole
// schedule.
//
// # Bad input
//
// A request that breaks its schema is dead-lettered by the SDK; one whose
// parameters do not fit its command (ErrMalformedCommand) or for a meter of
// which the hot pond holds no reading (ErrUnknownMeter, with
// DISPATCHER_METER_CHECK=hot-pond) is dead-lettered with that message; an
// ack naming another meter than its command is dead-lettered too. Acks for
// unknown or decided commands are counted and ignored.
//
// # Environment
//
//	DISPATCHER_MAX_ATTEMPTS            3         attempts when the request names none
//	DISPATCHER_ACK_TIMEOUT             60s       wait for an ack when the request names none
//	DISPATCHER_BACKOFF                 1s        pause after attempt 1 timed out; doubles per attempt
//	DISPATCHER_BACKOFF_MAX             5m        longest pause
//	DISPATCHER_TICK                    100ms     period of the dispatch timer
//	DISPATCHER_BATCH                   1000      due commands per tick at most
//	DISPATCHER_CONCURRENCY             16        due commands handled at once
//	DISPATCHER_REREAD                  true      re-read missed reads (meter.reading.missed.v1)
//	DISPATCHER_REREAD_MAX_CONSECUTIVE  4         missed reads in a row beyond which a slot is not re-read
//	DISPATCHER_REREAD_ATTEMPTS         0         attempts of a re-read (0: DISPATCHER_MAX_ATTEMPTS)
//	DISPATCHER_REREAD_ACK_TIMEOUT      0         ack timeout of a re-read (0: DISPATCHER_ACK_TIMEOUT)
//	DISPATCHER_RETENTION               168h      how long a finished command is remembered
//	DISPATCHER_METER_CHECK             hot-pond  "hot-pond" (unknown meters dead-lettered) or "off"
//	DISPATCHER_KEY_PREFIX              ws:cmd:   prefix of the Redis keys
//	REDIS_URL, REDIS_USERNAME, ...     (ponds/hot)  the Redis: commands and the hot pond
//
// plus the rivers SDK's variables (KAFKA_BROKERS, HTTP_ADDR, ...).
package dispatcher
