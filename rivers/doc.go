// Package rivers is Watershed's service SDK: a service declares the events
// it wants as rivers, handles them, publishes what it learns, and the SDK
// does the rest — filtering, use-by dates, de-duplication, schema checks,
// retries, dead letters, heartbeats, retirement, health, metrics and
// tracing — over Kafka (through package rapids) or in memory (package
// riverstest).
//
// # A service
//
//	cfg, err := rivers.ConfigFromEnv("voltage-watch", "")
//	svc, err := rivers.NewService(cfg)
//	svc.Publishes(events.TypeMeterReadingAnomalous)
//	svc.Handle(rivers.NewRiver(events.TypeMeterReading).OnTopic(rivers.Rapids).
//		Require("meter_id", "voltage_v"),
//		func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
//			v, err := ev.Float("voltage_v")
//			if err != nil {
//				return err
//			}
//			...
//			return pub.Publish(ctx, events.TypeMeterReadingAnomalous, anomaly)
//		})
//	err = svc.Run(ctx) // until SIGTERM
//
// # The process
//
// A service's main is one call of [Main]: it reads the SDK's and the
// service's configuration and reports every problem of both at once, makes
// the Service, runs it until SIGINT or SIGTERM, stops it gracefully, and
// exits with [ExitOK], [ExitFailure] or [ExitConfig]:
//
//	func main() {
//		rivers.Main(voltagewatch.Name, voltagewatch.ConfigFromEnv, rivers.Registers(voltagewatch.Register))
//	}
//
// Package rivers/env is the reader a service's ConfigFromEnv uses for its
// own variables.
//
// # What happens to a record
//
// Each record a service reads goes through these steps, in order:
//
//  1. Type: the ce_type header is compared with the rivers' types. A
//     record no river wants is skipped without decoding or allocating
//     anything, and committed in bulk.
//  2. Decode: the CloudEvent is decoded strictly (contracts.Decoder, at
//     most MAX_EVENT_BYTES). Undecodable → dead letter, class malformed.
//  3. Use-by: an event past its ce_expirytime is dropped, counted per type
//     and river (watershed_events_expired_total) and given to the river's
//     OnExpired hook. It is not dead-lettered: it is simply too late.
//  4. Loop: an event past MAX_HOPS derivations → dead letter, class loop.
//  5. Duplicates: an event whose (ce_source, ce_id) was seen within
//     DEDUP_WINDOW is dropped and counted ([DedupStore]).
//  6. Schema: the payload is validated against its type's schema in the
//     contracts catalog ([Validator]); invalid → dead letter, class schema.
//     Types the catalog does not know, and members a newer schema added,
//     are accepted (a tolerant reader).
//  7. Key rules: each river's Require, RequireValue(s), Forbid and
//     ForbidValues rules; an event that fails them goes to the river's
//     OnReject hook (and watershed_events_rejected_total), not its handler.
//  8. Handler, through middleware: the SDK's metrics and tracing, the
//     service's own ([Service.Use]), [Retry] (transient errors, capped
//     backoff), [Timeout], [Recoverer]. A permanent error, a panic, or
//     retries running out → dead letter (permanent, panic,
//     retries_exhausted) with the attempt count.
//
// The handler's publications are sent when it returns nil, and the
// record's offset is committed once they are acknowledged, so a crash never
// loses a publication and redelivers at most what was not committed.
// Nothing stops the stream: after any failure the next record is
// processed. Dead letters go to "<topic>.dlq" with the original key, value
// and headers plus the dlq_* headers ([HeaderDLQOriginTopic], ...).
//
// # Publishing
//
// A handler's [Publisher] derives new events from the one it handles (new
// id, causation and correlation ids, hop count + 1, participants; the key
// from the catalog's key property or the cause's). Every publication is
// validated against the catalog before it is sent, gets a use-by date from
// its type's TTL, and carries the W3C trace context. A type the ecosystem
// retired for this service (system.retirement.v1) is withheld:
// Publish returns [ErrRetired].
//
// # Needs and solutions
//
// A service asks the ecosystem with an [Asker] ([NewAsker], [Asker.Ask]):
// it publishes a need (need_id = its ce_id, asker, deadline = its use-by),
// collects the solutions solvers publish with [Solve] and
// [Answerer.Answer] until the deadline (or [AskerConfig].Enough of them),
// and receives the best by its own rule ([AskerConfig].Better) in
// [AskerConfig].Decided. Several versions of a solver may answer the same
// need; each solution names its solver and version.
//
// # Heartbeats and lifecycle
//
// A service publishes system.service.started.v1 when it starts,
// system.heartbeat.v1 every HEARTBEAT_INTERVAL — its name, version,
// instance, uptime, the types it publishes (declared with
// [Service.Publishes] and observed), its rivers (types, keys, passive),
// retired types, lag and last processed time — and
// system.service.stopping.v1 when it stops.
//
// # HTTP
//
// [Service.Run] serves on HTTP_ADDR: /healthz (alive), /readyz (serving,
// partitions assigned, every [Service.CheckReady] check passing; JSON
// detail with retired types) and /metrics (Prometheus, through the
// OpenTelemetry SDK; see the Metric* constants).
//
// # Environment
//
// [ConfigFromEnv] reads, over the defaults:
//
//	SERVICE_NAME          service name (default: the name passed in)
//	SERVICE_VERSION       version (default: build information)
//	SERVICE_INSTANCE      instance id (default: <hostname>-<pid>)
//	KAFKA_GROUP           consumer group (default: the service name)
//	KAFKA_START_OFFSET    earliest | latest, for a new group (default earliest)
//	KAFKA_*               brokers, security, topics, producer: see package rapids
//	ENSURE_TOPICS         create missing topics at start (default true)
//	HTTP_ADDR             health and metrics address (default :8080; off disables)
//	HEARTBEAT_INTERVAL    default 5s
//	SHUTDOWN_TIMEOUT      graceful stop deadline (default 20s)
//	DEDUP_WINDOW          duplicate window (default 10m)
//	DEDUP_SIZE            in-memory duplicate store bound (default 100000)
//	MAX_HOPS              loop cut-off (default 10)
//	MAX_EVENT_BYTES       largest event (default 1048576)
//	HANDLER_TIMEOUT       per attempt (default 30s; negative: none)
//	RETRY_ATTEMPTS        attempts for transient errors (default 5)
//	RETRY_BACKOFF         first backoff (default 100ms, doubling)
//	RETRY_MAX_BACKOFF     backoff cap (default 10s)
//	MAX_IN_FLIGHT         handled events awaiting acknowledgement (default 1000)
//	CONCURRENCY           workers, each owning partitions (default 1)
//	MAX_BATCH             records in one batch handler call (default 512)
//	EVENT_TTL             default use-by of published events (default 24h; never)
//	EVENT_TTLS            per type: meter.reading.v1=2h,outage.suspected.v1=30m
//	LOG_LEVEL             debug | info | warn | error (default info)
//	LOG_FORMAT            json | text (default json)
//	OTEL_TRACES_EXPORTER  none | otlp | console (default none); otlp uses
//	                      OTEL_EXPORTER_OTLP_* (HTTP/protobuf) and
//	                      OTEL_TRACES_SAMPLER as the OpenTelemetry SDK reads them
//
// A bad value fails [ConfigFromEnv] and [NewService] with a message naming
// the variable and what to fix.
package rivers
