// Package archive is the object-store pond: every event of a topic kept in
// Parquet files in a bucket (a folder, S3 or any S3-compatible store, GCS,
// Azure) through gocloud.dev/blob, laid out for the tools analysts already
// use (DuckDB, pandas, Spark, Trino) with Hive partitioning:
//
//	<topic>/ce_type=<ce_type>/date=YYYY-MM-DD/<topic>+<partition>+<first offset>.parquet
//
// The type folder's key is ce_type, not type: a Hive partition named like
// the type column of every file makes pyarrow and Spark refuse to read a
// topic folder whole. Ponds written with type= folders are still read,
// and count for replays; rename their folders to migrate.
//
// The date is the UTC date of the event time (ce_time; the record's
// timestamp for an event without one). Each file holds one run of rows of
// one topic, type, date and partition, in offset order, and is named by
// the offset of its first row (19 digits, so names sort by offset).
//
// Every file has the envelope columns (id, source, type, time, expiry_time,
// key, topic, partition, offset, subject, causation_id, correlation_id,
// data_schema, hops, participants, record_time). meter.reading.v1 files add
// the reading's typed columns (meter_id, transformer_id, feeder_id, read_at,
// interval_s, energy_kwh_total, demand_kw, voltage_v, flags) and keep the
// raw payload in data only when it had members the columns do not hold.
// Every other type of the contracts catalog gets one column per payload
// member in the same way (see typed.go for the mapping; a member named like
// an envelope column is data_<name>), and a column name has one type across
// the pond. Types the catalog does not know carry the payload as JSON text
// in data. Times are TIMESTAMP(MICROS, UTC). Pages are zstd-compressed by
// default.
//
// An [Archiver] writes the files. Its caller adds records in offset order,
// flushes now and then, and commits the [Watermark]s: an offset is
// committed only once its row is in an object that was completely written
// (the blob writer's Close succeeded), already archived, or refused.
//
// # No duplicate, no loss
//
// A crash loses the buffered rows; the restarted consumer reads again from
// the committed offsets, which lie at or before every lost row. Files may
// have been written after the last commit, so some re-read records are
// already archived. The archiver keeps the files of one (topic, type, date,
// partition) on disjoint offset ranges, with every row of the key in a
// range in some file. It lists a key's files once per session, and for a
// record at offset o reads the last offset of the file with the greatest
// first offset at or below o from that file's footer: when o is at or
// below it, the record is already archived and skipped. A new file ends
// before an existing file's first offset. So whatever the flush timing
// was before the crash, and whatever it is after, every row is in exactly
// one file; a replay from offset 0 writes nothing. Objects appear whole or
// not at all (S3 PUT; file:// writes a temporary file and renames it), and
// temporary files are not pond objects (List and *.parquet globs skip
// them).
//
// One archiver must own a partition at a time (a consumer group gives each
// partition to one member); call [Archiver.Forget] when a partition is
// revoked.
//
// [List], [ReadObject], [Rows], [WriteCSV], [WriteTable] and [WriteJSONLines] read the
// pond back; `watershed ponds ls` and `watershed ponds cat` are built on
// them.
package archive
