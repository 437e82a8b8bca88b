// Package archiver is the archiving service as a library: the
// raw-archiver runs it on the rapids, the river-archiver on the rivers. It
// writes every event of one topic
// into the object-store pond as Hive-partitioned Parquet
// (<root>/<topic>/ce_type=<ce_type>/date=YYYY-MM-DD/<topic>+<partition>+<first offset>.parquet,
// see package ponds/archive) and commits a Kafka offset only once the
// object holding its record is durable.
//
// # Why not a river handler
//
// The rivers SDK commits a record's offset when its handler returns (and
// its publications are acknowledged); it has no deferred acknowledgement.
// An archiver that buffers rows for a file would then commit rows that are
// only in memory, and a crash would lose them. So the archiver consumes
// with a rapids consumer of its own, in a consumer group of its own
// (ARCHIVE_GROUP, default "<service group>-pond"; the service's group is
// the SDK's, for its system rivers), and
// commits the archive.Archiver's Watermarks after each flush. The service
// (heartbeats, /healthz, /readyz, /metrics, lifecycle events) is an
// ordinary rivers.Service; a timer drives the consumer, so Register works
// under `watershed dev` like every other service. The service declares no
// river, so it is never counted as demand for a type (archivers are
// passive by nature).
//
// # Exactly once in the pond
//
// Files are named by their first offset and never overlap; after a crash
// the archiver re-reads from the committed offsets and skips what is
// already in a file (see ponds/archive). A kill at any point, a restart
// and a replay from offset 0 (a new consumer group) leave every valid
// record in exactly one row.
//
// # Bad input
//
// An undecodable record (class malformed) or a payload that breaks its
// type's schema (class schema) is published to "<topic>.dlq" with the
// rivers SDK's dlq_* headers before its offset is committed, and never
// written to Parquet. Types the catalog does not know are archived with
// their raw JSON. Expired events (past ce_expirytime) ARE archived: use-by
// tells consumers not to act on an event; the pond is the history of what
// was said, and analysts filter on the expiry_time column.
//
// # Rebalances
//
// The rapids consumer has no revocation callback. When the consumer's
// group generation changes (its assigned partition count changes), the
// archiver commits what is durable, drops what it buffered and reconnects,
// so every partition restarts at its committed offset with whichever
// member now owns it; the dropped rows were not committed and are read
// again. A partition redelivered from an earlier offset is forgotten
// (archive.Archiver.Forget) and archived from there, skipping rows already
// in files.
//
// # Environment
//
//	PONDS_URL            the pond bucket: a path, file:///path,
//	                     s3://bucket?endpoint=http://host:port&use_path_style=true&region=us-east-1,
//	                     gs://bucket, azblob://container; any takes prefix=folder/
//	                     (default: $DATA_DIR/pond, else ./.watershed/pond)
//	DATA_DIR             see PONDS_URL
//	ARCHIVE_FLUSH_ROWS   rows per file at most (default 100000)
//	ARCHIVE_FLUSH_BYTES  buffered bytes per file at most (default 33554432)
//	ARCHIVE_FLUSH_AGE    a file is written this long after its first row (default 10s)
//	ARCHIVE_COMPRESSION  zstd | snappy | gzip | none (default zstd)
//	ARCHIVE_GROUP        the archiver's consumer group (default: KAFKA_GROUP or the
//	                     service name, + "-pond")
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE
//	                     S3 credentials (the AWS SDK's default chain)
//
// plus the rivers SDK's variables (KAFKA_*, KAFKA_GROUP, HTTP_ADDR, ...).
package archiver
