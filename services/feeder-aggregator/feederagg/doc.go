// Package feederagg is the feeder aggregator, the edge agent's view of
// the grid: load per transformer and per feeder per window (15 minutes).
// It reads meter.reading.v1 from the rapids (stage 1) and publishes
// feeder.load.v1 on the rivers, level transformer then feeder.
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
// The feeder level sums its transformers.
//
// Windows close in event time: when the watermark passes a window's end
// by Lateness. The watermark is the lowest, over the rapids partitions
// consumed, of each partition's latest plausible read_at (package
// rivers/eventtime). A partition stops holding it back only when idle:
// read to its end (rivers.Delivery.Behind was 0 at its last read) and
// IdleAfter of newer record time read from the other partitions since; a
// partition with records still to read holds it however far behind, so
// lag makes a window late, never different. A read more than MaxClockSkew
// ahead, a meter with a wrong clock, does not move it. Figures are computed at close from each meter's recent
// reads, so duplicates and reordering within the lateness change nothing.
// A read for a closed window is dropped and counted (no corrections: this
// is an operational view; usage-aggregator owns exact energy).
//
// Run one instance per consumer group: a transformer's meters are spread
// over the rapids' partitions (keyed by meter) and an instance aggregates
// only what it consumes.
//
// # Environment
//
//	FEEDER_WINDOW            15m  aggregation window (divides 24h)
//	FEEDER_LATENESS          30m  event time past a window's end before it closes
//	FEEDER_EXPECTED_HORIZON  24h  a meter is expected when seen within this long
//	FEEDER_MAX_CLOCK_SKEW    2h   reads further ahead of the watermark are ignored
//	FEEDER_SKEW_CONFIRM      100  implausible reads in a row that move the watermark
//	FEEDER_IDLE_AFTER        10s  record time read from other partitions before a caught-up, silent partition is idle
//	FEEDER_TICK              1s   wall-clock period of the closing timer
//	FEEDER_CHECKPOINT_DIR    ""   directory of the final checkpoint a clean stop saves and the next start restores
//
// plus the rivers SDK's variables (KAFKA_BROKERS, ...).
package feederagg
