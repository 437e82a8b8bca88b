// Package validator is the reading-validator service: it reads every
// meter.reading.v1 on the rapids, applies range, clock, order, duplicate
// and register rules, and publishes only the exceptions to the rivers —
// meter.reading.rejected.v1 (unusable) and meter.reading.anomalous.v1
// (usable but suspicious), one event per rule tripped. Good reads publish
// nothing.
//
// Rules (Rule* constants): rejected — schema, voltage_out_of_range,
// demand_out_of_range, read_at_in_future, read_at_out_of_range, duplicate,
// duplicate_conflict, register_decreased; anomalous — out_of_order, late,
// register_stuck, register_jump, register_rollover, demand_spike,
// voltage_out_of_band, clock_invalid, tamper, read_at_unaligned,
// interval_mismatch. A rejected read does not change the meter's state.
//
// "Now" for the clock rules is the reading event's ce_time (when its
// collector or gateway sent it), so an accelerated simulation is judged on
// its own clock; VALIDATOR_REFERENCE=wall uses this process's clock.
//
// Memory: 32 bytes of state per meter (24 before it remembered the
// partition) plus its 8-byte hash key in a map (≈ 84 bytes per meter
// measured at 1 M meters before that), bounded by VALIDATOR_MAX_METERS.
//
// # Scaling out
//
// N instances share the rapids in one consumer group, N at most the
// rapids' partition count; each judges the meters of its partitions. The
// state is per partition (rivers.PartitionState): an instance assigned a
// partition replays its last 24 hours of records (more than the 64
// intervals remembered per meter at 15 minutes) up to the committed
// offset, publishing nothing, before it reads on; a partition taken away is
// dropped (Validator.DropPartition). Findings have ids derived from the
// reading and the rule, so a reading judged again by a new owner yields the
// same events.
//
// # Environment
//
//	VALIDATOR_MAX_VOLTAGE_V     500      above: rejected (voltage_out_of_range)
//	VALIDATOR_VOLTAGE_LOW_V     207      below (except 0 V with power_fail): anomalous
//	VALIDATOR_VOLTAGE_HIGH_V    253      above: anomalous (voltage_out_of_band)
//	VALIDATOR_MAX_DEMAND_KW     1000     |demand| above: rejected (demand_out_of_range)
//	VALIDATOR_DEMAND_SPIKE_KW   60       |demand| or implied demand above: anomalous
//	VALIDATOR_STUCK_DEMAND_KW   0.05     register unchanged at this demand or more: anomalous
//	VALIDATOR_MAX_CLOCK_SKEW    5m       read_at further ahead of "now": rejected
//	VALIDATOR_LATE_AFTER        1h       read_at older than "now" by more: anomalous (late)
//	VALIDATOR_REFERENCE         event    "event" (ce_time) or "wall"
//	VALIDATOR_MAX_METERS        5000000  meters remembered; past it an arbitrary one is forgotten
//
// plus the rivers SDK's variables (KAFKA_BROKERS, HTTP_ADDR, ...).
package validator
