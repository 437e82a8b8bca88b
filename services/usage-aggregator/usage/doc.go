// Package usage is the usage aggregator: energy per meter per hour and per
// day from register reads. It reads meter.reading.v1 from the rapids
// (stage 1) and publishes usage.interval.v1 on the rivers.
//
// # Attribution rule
//
// A read at read_at covers the interval (read_at − interval_s, read_at].
// The register of a meter at instant T, R(T), is its latest read at or
// before T. A period [start, end) has energy R(end) − R(start) and counts
// the reads with read_at in (start, end]: a read on the hour ends the
// previous hour. With every read present this is the exact metered energy;
// when reads are missing, the whole delta of the next read is attributed
// to the period that read falls in (no interpolation), so periods always
// add up to the register difference and never double count. Registers are
// integers in Wh (the meters round to 0.001 kWh), so totals are exact.
// A period is published only once a read at or before its start is known
// (the first read of a meter is its baseline) and when it has at least one
// read: a period without reads has energy 0 by the rule.
//
// # Late, duplicate and out-of-order reads
//
// Reads are kept per meter, sorted and unique by read_at, for Horizon of
// event time. A duplicate (same read_at, same register) is ignored; a
// conflicting duplicate keeps the first; a read that would make the
// register decrease against its neighbours is rejected. A period closes
// when the event-time watermark passes its end by Lateness. The watermark
// is the lowest, over the rapids partitions consumed, of each partition's
// latest plausible read_at (package rivers/eventtime). A partition stops
// holding it back only when idle: read to its end (rivers.Delivery.Behind
// was 0 at its last read) and IdleAfter of newer record time read from the
// other partitions since; a partition with records still to read holds it
// however far behind, so lag makes a period late, never different. A read
// more than MaxClockSkew ahead, a meter with a wrong clock, does not move
// it; out-of-order reads within the lateness change nothing. A read
// that arrives for a closed period recomputes every closed period after
// it: each one whose figures changed is published again, derived from the
// late read. A correction is a new usage.interval.v1 for the same meter,
// period and start, keyed by meter_id (so it follows the first in its
// partition): consumers keep the latest per (meter_id, period, start).
// Reads older than Horizon are dropped and counted.
//
// Days are calendar days in TimeZone (default UTC).
//
// # Scaling out
//
// State is in memory, per rapids partition: records are keyed by
// transformer, so a meter's reads share a partition and
// N instances in one consumer group (N at most the rapids' partition
// count) each aggregate the meters of their partitions. The service
// declares rivers.PartitionState: an instance assigned a partition (at its
// start, or when another left or died) replays the partition's last
// Horizon + Lateness of records up to the committed offset, publishing
// nothing, to rebuild its meters before it reads on; a partition taken
// away is dropped (Aggregator.DropPartition). A period is published with
// an id derived from its meter, period, start and figures: a new owner
// that publishes a period again with the same figures publishes the same
// event. USAGE_CHECKPOINT_DIR is accepted and ignored: the replay replaces
// the final checkpoint, exactly, after clean and unclean stops alike.
//
// # Environment
//
//	USAGE_LATENESS        1h    event time past a period's end before it closes
//	USAGE_HORIZON         26h   event time reads are kept for corrections
//	USAGE_MAX_CLOCK_SKEW  2h    reads further ahead of the watermark are ignored
//	USAGE_SKEW_CONFIRM    100   implausible reads in a row that move the watermark
//	USAGE_IDLE_AFTER      10s   record time read from other partitions before a caught-up, silent partition is idle
//	USAGE_TIME_ZONE       UTC   IANA zone of the daily periods
//	USAGE_TICK            1s    wall-clock period of the closing timer
//	USAGE_CHECKPOINT_DIR  ""    ignored (the state is rebuilt by replay)
//
// plus the rivers SDK's variables (KAFKA_BROKERS, ...).
package usage
