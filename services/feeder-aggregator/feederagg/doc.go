// Package feederagg is the feeder aggregator, the edge agent's view of
// the grid: load per transformer and per feeder per window (15 minutes).
// It reads meter.reading.v1 from the rapids (stage 1) and publishes
// feeder.load.v1 on the rivers, level transformer; a second river of the
// same service reads those back and publishes the level feeder.
//
// A window [start, end) holds the reads with read_at in (start, end] (a
// read covers the interval that ends at read_at). At close, per
// transformer:
//
//   - load_kw: the sum over meters of their time-weighted average demand
//     (demand_kw × interval_s / window);
//   - energy_kwh: the sum over meters of R(end) − R(start), R(T) the
//     meter's latest register at or before T (exact, integer Wh);
//   - voltage min / max / mean over the window's reads;
//   - meters_reporting: meters with a read in the window; meters_expected:
//     meters seen under the transformer within ExpectedHorizon before the
//     window's end. A transformer whose meters all went silent is still
//     published, with 0 reporting.
//
// # Transformer level: per rapids partition
//
// The rapids are keyed by transformer: a transformer's meters share a
// partition, and its windows are a function of that partition's records
// (Transformers: one Aggregator per partition). They close in event time
// when the partition's own watermark (its latest plausible read_at,
// package rivers/eventtime) passes their end by Lateness, on the read that
// moves it: what a window holds depends on the partition's order alone,
// not on batching, timers, instances or the other partitions. (The
// watermark used to be the lowest over partitions, with a partition read
// to its end idle after IdleAfter of others' record time: under load that
// closed windows without a partition's meters.) A read more than
// MaxClockSkew ahead, a meter with a wrong clock, does not move it. Figures
// are computed at close from each meter's recent reads, so duplicates and
// reordering within the lateness change nothing. A read for a closed
// window is dropped and counted (no corrections: this is an operational
// view; usage-aggregator owns exact energy).
//
// A partition fully silent has no read to close its windows: when it was
// read to its end (at its last record and now) and IdleAfter of newer
// record time was read from the instance's other partitions, the timer
// (Tick) closes its windows up to the lowest watermark of the others, so
// a transformer whose meters all went silent is still published. A
// partition with records still to read is never silent: lag delays its
// windows, never closes them early.
//
// # Feeder level: a second stage
//
// Transformer windows are keyed by feeder_id on the rivers: one rivers
// partition, one instance, holds all of a feeder's. The feeder level
// (Feeders) sums them per window: a feeder window closes, in order, when
// every expected transformer (one that reported a window with meters
// reporting within ExpectedHorizon before the window's end) has reported
// it or a later window (skipping it: no expected meter in it), once a
// later transformer window was read on the rivers partition (the
// transformers of a rapids partition publish a window one after the other;
// the first must not close it alone); or, with those that reported, once
// the latest transformer window read on the rivers partition ends
// FeederWait past it: a transformer no longer published is given up. A
// transformer window for a closed feeder window is dropped. Its mean
// voltage is the transformers' means weighted by meters reporting (the
// payload has no read count). A transformer never seen cannot be waited
// for: at the start of a stream, a feeder's windows close as complete only
// once FeederSettle of record time passed since its first transformer
// window (on a record, or on the timer), so the transformers of rapids
// partitions read a little later are counted; one later still is missing
// from the feeder's first windows.
//
// # Scaling out
//
// Both levels keep their state per partition (rivers.PartitionState over
// the rapids and the rivers): N instances in one consumer group, N at most
// the rapids' partition count. An instance assigned a partition replays
// its last History of records (FEEDER_HISTORY; default ExpectedHorizon +
// Window + Lateness + FeederWait) up to the committed offset; the timer
// waits for replays. Every window is published as derived from the record
// that closed it (the timer's, for a silent partition), with an id derived
// from (level, id, start) and, at the transformer level, a time to live of
// the history: a record is committed only once its windows are out, so a
// replay closes again only published windows (its publications are
// discarded), and a record not committed is read again by the next owner,
// which publishes the same event. There is no checkpoint: the replay is
// exact.
//
// # Environment
//
//	FEEDER_WINDOW            15m  aggregation window (divides 24h)
//	FEEDER_LATENESS          30m  event time past a window's end before it closes
//	FEEDER_EXPECTED_HORIZON  24h  a meter (a transformer, at feeder level) is expected when seen within this long
//	FEEDER_MAX_CLOCK_SKEW    2h   reads further ahead of their partition's watermark are ignored
//	FEEDER_SKEW_CONFIRM      100  implausible reads in a row that move the watermark
//	FEEDER_IDLE_AFTER        10s  record time read from other partitions before a caught-up, silent partition closes on theirs
//	FEEDER_WAIT              6h   event time on the rivers past a feeder window before it closes without missing transformers
//	FEEDER_SETTLE            30s  record time after a feeder's first transformer window before it closes windows as complete
//	FEEDER_HISTORY           0    record time replayed per assigned partition (0: horizon + window + lateness + wait)
//	FEEDER_TICK              1s   wall-clock period of the silent-partition timer
//
// plus the rivers SDK's variables (KAFKA_BROKERS, ...).
package feederagg
