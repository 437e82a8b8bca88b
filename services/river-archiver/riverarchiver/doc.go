// Package riverarchiver is the river-archiver service: the archiver of
// package ponds/archiver pointed at the rivers topic. It
// writes every business and system event, of every type, into the pond as
// Parquet (<root>/rivers/ce_type=<ce_type>/date=YYYY-MM-DD/rivers+<partition>+<first offset>.parquet),
// commits offsets only once the objects are durable, and dead-letters
// malformed and schema-invalid events to rivers.dlq.
//
// # Environment
//
//	PONDS_URL            the pond bucket (default: $DATA_DIR/pond, else ./.watershed/pond)
//	DATA_DIR             see PONDS_URL
//	ARCHIVE_FLUSH_ROWS   rows per file at most (default 100000)
//	ARCHIVE_FLUSH_BYTES  buffered bytes per file at most (default 33554432)
//	ARCHIVE_FLUSH_AGE    a file is written this long after its first row (default 10s)
//	ARCHIVE_COMPRESSION  zstd | snappy | gzip | none (default zstd)
//	ARCHIVE_GROUP        consumer group (default "river-archiver-pond")
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION   S3 credentials
//
// plus the rivers SDK's variables (KAFKA_*, KAFKA_GROUP, HTTP_ADDR, ...).
// Its consumer group defaults to "river-archiver-pond", so it and the
// raw-archiver may share one pond.
package riverarchiver
