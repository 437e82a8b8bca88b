// Package gapdetector is the gap detector: the negative event. It reads
// meter.reading.v1 from the rapids (stage 1), learns each meter's cadence
// (interval_s) and publishes on the rivers:
//
//   - meter.reading.missed.v1 for every expected read that has not come
//     once the event-time watermark has passed its expected time by the
//     grace period: one per missed interval per meter, at most
//     MaxConsecutive in one run of silence;
//   - meter.reading.late.v1 when a read arrives for a slot already declared
//     missed: it closes that gap.
//
// # Event time
//
// Time is event time, never the wall clock: the simulator runs an
// accelerated clock (900×: fifteen grid minutes per wall second), and real
// head-ends deliver in bursts hours late. The watermark (package
// rivers/eventtime) is the lowest, over the rapids partitions the instance
// consumes, of each partition's latest plausible read_at: a partition
// consumed ahead of the others cannot make the others' meters look silent.
// A partition stops holding the watermark back only when it is idle: the
// detector read it to its end (rivers.Delivery.Behind was 0 at its last
// read) and has since read IdleAfter of newer records (by broker record
// time) from the other partitions. A partition with records still to read
// is never idle, however far behind: lag makes a missed read late, never
// false. A slot expected at E is declared missed once
// watermark ≥ E + Grace; slots are judged as the reads come, each time
// the watermark moved 15 minutes, and on the timer (Tick, wall clock),
// which publishes what was judged: a backlog read at any pace never
// carries a meter past the 64 slots it remembers unjudged. Grace covers the lateness within a partition. A read
// more than MaxClockSkew ahead of the watermark (a meter with a wrong
// clock) neither moves it nor is tracked, unless SkewConfirm such reads
// in a row show the whole stream moved. Reads flagged clock_invalid are
// ignored. When no read arrives at all, the watermark stops and nothing is
// declared missed: a silent head-end is not a fleet of dead meters.
// Timestamps the detector reports (detected_at, received_at) are event
// times too: detected_at = expected_at + grace, received_at = the
// watermark when the late read arrived.
//
// # State
//
// Per meter: the slot of its newest read, a 64-slot bitmap of reads
// received behind it, the last judged slot, its transformer and interval
// (indexes into small tables) and its last register: 24 bytes, plus the
// interned id (its bytes, a 4-byte offset and a 4–8-byte hash slot).
// BenchmarkTrackerMemory measures about 59 bytes per meter at 1,000,000
// meters. A read more than 64 slots older than the meter's newest is
// ignored (too old): its slot is never declared missed either.
//
// The warm-up counts from each input partition's first read: no missed
// read is published for slots expected before it plus WarmUp.
//
// # Scaling out
//
// N instances share the rapids in one consumer group, N at most the
// rapids' partition count; each owns the meters of its partitions. The
// detector declares its state per partition (rivers.PartitionState): an
// instance assigned a partition replays the partition's last History of
// records (GAP_HISTORY) up to the committed offset to rebuild its meters,
// publishing nothing from the replayed records themselves (the slots the
// replay judges are published by the timer once it is done), before it
// reads on; a partition taken away is
// dropped (Tracker.DropPartition, which also lets the partition's
// watermark go). Missed and late events have ids derived from meter and
// slot (rivers.DerivedID), so a slot declared again by a new owner is the
// same event. Checkpoints (CheckpointEvery, through a CheckpointStore) are
// still saved but not restored: the replay is exact, and a checkpoint
// shared by instances could resurrect meters another instance owns.
//
// # Environment
//
//	GAP_GRACE             30m   event time past expected_at before a read is missed
//	GAP_MAX_CONSECUTIVE   96    missed events per run of silence per meter
//	GAP_WARMUP            1h    event time after the first read with no missed events
//	GAP_MAX_CLOCK_SKEW    2h    reads further ahead of the watermark are ignored
//	GAP_SKEW_CONFIRM      100   implausible reads in a row that move the watermark
//	GAP_IDLE_AFTER        10s   record time read from other partitions before a caught-up, silent partition is idle
//	GAP_TICK              1s    wall-clock period of the missed-read timer
//	GAP_CHECKPOINT_EVERY  30s   wall-clock period of checkpoints (0: off)
//	GAP_CHECKPOINT_DIR    ""    directory of file checkpoints (main: unless REDIS_URL)
//	GAP_CHECKPOINT_NAME   gap-detector
//	GAP_HISTORY           26h   record time of a partition replayed when it is assigned (0: all)
//	REDIS_URL             unset (main only) Redis checkpoints through ponds/hot
//
// plus the rivers SDK's variables (KAFKA_BROKERS, ...).
package gapdetector
