// Package rapids is Watershed's connection to Kafka, on
// github.com/segmentio/kafka-go with safe defaults: a Producer that waits
// for all in-sync replicas and partitions keys like the Java client, a
// Consumer that delivers at least once (commit after success), topic
// bootstrap, SASL and TLS.
//
// # Publishing
//
// Producer.Publish(ctx, records...) returns once every record is
// acknowledged by all in-sync replicas (acks=all). Keyed records go to
// partition toPositive(murmur2(key)) % n, as with the Java client and
// librdkafka's murmur2_random, so one meter's events stay in order whatever
// language publishes them; records without key are spread at random.
// Batches leave after Config.Linger (5ms) at the latest, so a lone event is
// not held for kafka-go's 1s default; concurrent Publish calls share
// batches, which is the high-throughput path. Errors say whether retrying
// can help: IsPermanent (a record too large, authorization) or IsRetryable
// (leader elections, timeouts); *PublishError tells which records failed.
//
// # Consuming
//
// A Consumer is a member of a consumer group. Fetch returns records, Commit
// marks them processed (batched every second by default, and flushed by
// Close), and anything fetched but not committed is delivered again after a
// crash or rebalance. Consumer.Run is the loop most code wants: fetch, call
// the Handler, commit after it succeeds; retryable errors are retried with
// capped exponential backoff, and permanent ones (Permanent) go to the
// OnPermanent hook, where the caller dead-letters the record, before it is
// committed. Assigned and WaitAssigned tell when the consumer has joined its
// group (readiness); Lag tells how far behind it is.
//
// # Topics
//
// EnsureTopics creates rapids, rivers, rapids.dlq and rivers.dlq (or the
// given specs) when absent, with the configured partitions, replication and
// retention, and leaves existing topics alone.
//
// Ranges takes each partition's first and end offsets; ReadRanges reads
// them with no consumer group, up to those ends: a tool such as `watershed
// dlq` finishes however busy the topic is.
//
// # Configuration
//
// ConfigFromEnv reads these variables; every one is optional.
//
//	KAFKA_BROKERS                   bootstrap brokers, host:port,...      127.0.0.1:9092
//	KAFKA_CLIENT_ID                 client id in broker logs and quotas   watershed
//	KAFKA_SASL_MECHANISM            PLAIN, SCRAM-SHA-256, SCRAM-SHA-512    (none)
//	KAFKA_SASL_USERNAME             SASL user                             (none)
//	KAFKA_SASL_PASSWORD             SASL password                         (none)
//	KAFKA_TLS_ENABLED               true to connect with TLS              false
//	KAFKA_TLS_CA_FILE               PEM CAs to trust                      (system pool)
//	KAFKA_TLS_CERT_FILE             PEM client certificate (mTLS)         (none)
//	KAFKA_TLS_KEY_FILE              PEM client key (mTLS)                 (none)
//	KAFKA_TLS_SERVER_NAME           name to verify in the broker's cert   (the broker host)
//	KAFKA_TLS_INSECURE_SKIP_VERIFY  skip certificate checks (tests only)  false
//	KAFKA_COMPRESSION               none, gzip, snappy, lz4, zstd         lz4
//	KAFKA_TOPIC_RAPIDS              the rapids topic                      rapids
//	KAFKA_TOPIC_RIVERS              the rivers topic                      rivers
//	KAFKA_PARTITIONS                partitions of the rapids topic        6
//	KAFKA_RIVERS_PARTITIONS         partitions of rivers and the DLQs     3
//	KAFKA_REPLICATION_FACTOR        replicas of created topics (-1: broker default)  -1
//	KAFKA_RETENTION                 retention of rapids and rivers        168h
//	KAFKA_DLQ_RETENTION             retention of the dead-letter topics   720h
//	KAFKA_BATCH_SIZE                most records per produced batch       1000
//	KAFKA_BATCH_BYTES               most bytes per batch (and per record) 1048576
//	KAFKA_LINGER                    longest wait to fill a batch          5ms
//	KAFKA_WRITE_TIMEOUT             bound of one produce request          10s
//	KAFKA_DIAL_TIMEOUT              bound of opening a connection         10s
//	KAFKA_MAX_ATTEMPTS              tries of a batch before Publish fails 10
//
// Durations are Go durations (500ms, 30s, 168h); a negative retention
// (-1ns) keeps records forever. A bad value fails ConfigFromEnv and
// Config.Validate with an error naming the variable and what to fix.
//
// Sub-packages: embedded runs an in-process broker for development and
// tests; rapidstest is the conformance suite every broker must pass.
package rapids
