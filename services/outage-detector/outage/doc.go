// Package outage is the outage detector, a stage-2 edge agent: it
// correlates silent meters per transformer and publishes
// outage.suspected.v1 and outage.restored.v1 on the rivers.
//
// # Inputs, and why it reads the rapids
//
// Silence comes from the rivers: meter.reading.missed.v1 from the gap
// detector (it owns cadences and grace periods; this service does not
// redo that work). But missed events alone cannot give a correct
// restoration: a meter that comes back produces no event on the rivers
// (meter.reading.late.v1 only closes slots declared missed, and a meter
// without supply records nothing for them), the restored_at the contract
// asks for is the read_at of the first read after the outage, the share
// needs the transformer's population (meters_total), and the evidence
// counts power_fail flags. All four live in meter.reading.v1, so the
// detector also consumes the rapids, reading only five keys. It keeps
// each meter's reads and missed reads for History of event time, and
// judges a transformer at the event times its silences changed (a missed
// expected_at, the read that ended a silence): a meter is silent at t when
// a read was declared missed at or before t and no read came since. The
// order in which the two topics are consumed does not matter: missed
// events read after the reads that ended them (the rapids read ahead of
// the rivers, as at full speed) make the same outage with the same times,
// and a silence that belonged to a restored outage starts no other.
//
// # Lag
//
// The missed events (rivers, low volume) are usually read long before the
// reads (rapids, high volume) of the same time. A missed read is only
// believed once the detector has read the rapids far enough to know the
// meter did not report: the reads watermark (the lowest latest read_at
// over the rapids partitions, package rivers/eventtime) has reached its
// expected_at, or every rapids partition was read to its end
// (rivers.Delivery.Behind was 0 at its last read). Until then it waits in
// memory (Detector.Pending). A rapids partition with records still to read
// holds the watermark however far behind; one read to its end stops
// holding it after IdleAfter of newer record time read from the others.
//
// # Rules
//
//   - Population: meters heard of (read or missed) under the transformer
//     within PopulationHorizon of event time.
//   - Suspected: among the silent meters, those whose silence started
//     within Window of the latest start; when they are at least MinMeters
//     and their share of the population is at least Threshold. One dead
//     meter, or meters dying hours apart, are not an outage.
//   - Once suspected, the outage collects its meters; it is restored when
//     the share of them still silent falls below RestoreShare. The gap
//     between Threshold and RestoreShare is the hysteresis: one suspected
//     and one restored per outage, no flapping. restored_at is the
//     earliest first read after silence among its meters; duration =
//     restored_at − first_silent_at (the earliest missed expected_at).
//
// Evaluation runs on a timer (Tick, wall clock) over the transformers
// whose meters changed. detected_at and suspected_at are the wall clock;
// the other times are event times. State is in memory; run one instance.
// With OUTAGE_CHECKPOINT_DIR set, a clean stop saves the whole state and the
// next start restores it (once: the file is removed), so a restart neither
// warms up again nor suspects an outage twice (Service.Stopped).
// After a start nothing is suspected until the reads watermark has passed
// the first read by WarmUp (event time): until then the detector knows only
// the meters it has heard since, and a few silent meters would look like
// most of a transformer. Evaluation is delayed, not skipped: an outage
// that began during the warm-up is suspected once it is over.
//
// # Environment
//
//	OUTAGE_THRESHOLD           0.5  silent share that raises a suspicion
//	OUTAGE_RESTORE_SHARE       0.2  still-silent share below which it is restored
//	OUTAGE_MIN_METERS          3    silent meters needed for a suspicion
//	OUTAGE_WINDOW              1h   event time within which silences correlate
//	OUTAGE_POPULATION_HORIZON  48h  a meter counts while heard of within this long
//	OUTAGE_HISTORY             12h  reads and missed reads kept per meter; older missed reads are ignored
//	OUTAGE_MAX_CLOCK_SKEW      2h   times further ahead of the watermark are ignored
//	OUTAGE_SKEW_CONFIRM        100  implausible times in a row that move the watermark
//	OUTAGE_IDLE_AFTER          10s  record time read from other partitions before a caught-up, silent partition is idle
//	OUTAGE_WARMUP              1h   event time after the first read before anything is suspected
//	OUTAGE_TICK                1s   wall-clock period of the evaluation timer
//	OUTAGE_CHECKPOINT_DIR      ""   directory of the final checkpoint (watershed dev: its data dir)
//
// plus the rivers SDK's variables (KAFKA_BROKERS, ...).
package outage
