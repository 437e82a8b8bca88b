package events

import (
	"encoding/json"
	"time"
)

// MeterReading is the payload of meter.reading.v1.
//
// One interval read of a smart meter: the system's input contract. Published on the rapids, keyed
// by meter_id, by the MQTT gateway, head-end adapters and the simulator. Delivery is at least once
// and reads may come late and out of order (head-ends deliver in bursts): the same read can arrive
// twice, so de-duplicate on (meter_id, read_at). Energy is a cumulative register
// (energy_kwh_total): use the difference of two reads, never the value itself.
type MeterReading struct {
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// Distribution transformer the meter is connected to.
	TransformerID string `json:"transformer_id"`
	// Medium-voltage feeder the transformer is fed from.
	FeederID string `json:"feeder_id"`
	// End of the interval this read covers, from the meter's clock: RFC 3339 date-time with offset,
	// e.g. 2025-03-01T10:15:00Z.
	ReadAt time.Time `json:"read_at"`
	// Length of the interval the read covers, in seconds: 900 for 15-minute reads.
	IntervalSeconds int `json:"interval_s"`
	// Cumulative active-energy import register at read_at, in kWh (0.001 kWh resolution): a running
	// total since the register's last reset, not the energy of the interval. The energy between two
	// reads of one meter is their difference. It never decreases except when the register resets
	// (rollover, flagged register_rollover, or a meter exchange): treat a negative difference as a
	// reset, not as negative energy, and restart from the new value.
	EnergyKWhTotal float64 `json:"energy_kwh_total"`
	// Average active power over the interval, in kW; negative when the premise exported (net
	// metering).
	DemandKW float64 `json:"demand_kw"`
	// RMS supply voltage at the meter over the interval, in volts; 0 during a supply loss.
	VoltageVolts float64 `json:"voltage_v"`
	// Status flags the meter raised during the interval; absent or empty when none. Known values:
	// power_fail, tamper, clock_invalid, reverse_flow, register_rollover. Consumers must tolerate
	// unknown flags.
	Flags []string `json:"flags,omitempty"`
}

// MeterReadingMissed is the payload of meter.reading.missed.v1.
//
// A negative event from the gap detector: an expected read did not arrive within the grace period
// (in event time). It reports an absence, not a zero: the meter's energy in the interval is
// unknown, not 0, so do not count it as zero consumption. One event per missing interval, at most a
// configured number per run of silence; de-duplicate on (meter_id, expected_at), as a redelivery
// can repeat one. When the read arrives after all, it flows on the rapids and a
// meter.reading.late.v1 closes the gap, so whatever was estimated from this event should be trued
// up.
type MeterReadingMissed struct {
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// Distribution transformer the meter is connected to.
	TransformerID string `json:"transformer_id"`
	// Medium-voltage feeder the transformer is fed from.
	FeederID string `json:"feeder_id"`
	// read_at the missing read would have carried: the end of the interval that was not reported.
	ExpectedAt time.Time `json:"expected_at"`
	// Reporting interval of the meter, in seconds: 900 for 15-minute reads.
	IntervalSeconds int `json:"interval_s"`
	// How long after expected_at the detector waited before declaring the read missing, in seconds.
	GraceSeconds float64 `json:"grace_s"`
	// Consecutive expected reads of this meter now missing, this one included.
	ConsecutiveMissed int `json:"consecutive_missed"`
	// read_at of the last read received from the meter before the gap; absent when the meter never
	// reported.
	LastReadAt time.Time `json:"last_read_at,omitzero"`
	// Cumulative register of that last read, in kWh (see meter.reading.v1 energy_kwh_total), so an
	// estimator needs no lookup; absent with last_read_at.
	LastEnergyKWhTotal *float64 `json:"last_energy_kwh_total,omitempty"`
	// When the gap detector declared the read missing.
	DetectedAt time.Time `json:"detected_at"`
}

// MeterReadingLate is the payload of meter.reading.late.v1.
//
// A read arrived after it had been declared missed: it closes the gap a meter.reading.missed.v1
// event opened (same meter_id, read_at = its expected_at), so estimates can be trued up. The read
// itself is the meter.reading.v1 on the rapids; this event carries no energy of its own to add.
type MeterReadingLate struct {
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// Distribution transformer the meter is connected to.
	TransformerID string `json:"transformer_id"`
	// Medium-voltage feeder the transformer is fed from.
	FeederID string `json:"feeder_id"`
	// read_at of the late read: the expected_at of the missed read it closes.
	ReadAt time.Time `json:"read_at"`
	// Reporting interval of the meter, in seconds: 900 for 15-minute reads.
	IntervalSeconds int `json:"interval_s"`
	// Cumulative register of the late read, in kWh (see meter.reading.v1 energy_kwh_total): not the
	// energy of the interval.
	EnergyKWhTotal float64 `json:"energy_kwh_total"`
	// When the late read reached the gap detector.
	ReceivedAt time.Time `json:"received_at"`
	// When the read had been declared missed (detected_at of the missed event).
	MissedDetectedAt time.Time `json:"missed_detected_at"`
	// received_at minus read_at, in seconds.
	DelaySeconds float64 `json:"delay_s"`
	// ce_id of the meter.reading.missed.v1 event this read closes, when known.
	MissedEventID string `json:"missed_event_id,omitempty"`
}

// MeterReadingRejected is the payload of meter.reading.rejected.v1.
//
// The reading validator refused a reading: it breaks its schema or a hard rule and must not be
// billed or aggregated. The reading itself is carried as received.
type MeterReadingRejected struct {
	// meter_id of the rejected reading when it has a usable one (then also the record key); absent
	// otherwise.
	MeterID string `json:"meter_id,omitempty"`
	// ce_id of the rejected event.
	ReadingEventID string `json:"reading_event_id"`
	// ce_source of the rejected event.
	ReadingSource string `json:"reading_source"`
	// The rejected event's data exactly as received: any JSON value.
	Reading json.RawMessage `json:"reading"`
	// Identifier of the validation rule, snake_case: e.g. schema, register_decreased,
	// read_at_in_future, interval_mismatch, demand_spike, voltage_out_of_range.
	Rule string `json:"rule"`
	// Why the reading was refused, e.g. the schema error with its instance path.
	Reason string `json:"reason"`
	// When the validator rejected the reading.
	RejectedAt time.Time `json:"rejected_at"`
}

// MeterReadingAnomalous is the payload of meter.reading.anomalous.v1.
//
// The reading validator accepted a reading that looks wrong (a demand spike, a voltage out of
// range, a register jump). The reading still flows; this exception travels beside it.
type MeterReadingAnomalous struct {
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// Distribution transformer the meter is connected to.
	TransformerID string `json:"transformer_id"`
	// Medium-voltage feeder the transformer is fed from.
	FeederID string `json:"feeder_id"`
	// read_at of the reading.
	ReadAt time.Time `json:"read_at"`
	// ce_id of the reading event.
	ReadingEventID string `json:"reading_event_id"`
	// The reading as received.
	Reading MeterReading `json:"reading"`
	// Identifier of the validation rule, snake_case: e.g. schema, register_decreased,
	// read_at_in_future, interval_mismatch, demand_spike, voltage_out_of_range.
	Rule string `json:"rule"`
	// Why the reading looks wrong, for operators and logs.
	Reason string `json:"reason"`
	// The reading property the rule looked at, e.g. demand_kw.
	Field string `json:"field,omitempty"`
	// The observed value that tripped the rule, in the unit of that property (e.g. kW for demand_kw).
	Value *float64 `json:"value,omitempty"`
	// The limit the value crossed, in the same unit.
	Threshold *float64 `json:"threshold,omitempty"`
	// When the validator flagged the reading.
	DetectedAt time.Time `json:"detected_at"`
}

// UsageInterval is the payload of usage.interval.v1.
//
// Energy one meter used in one hour or one day, from its register reads: what billing estimates and
// customer insights start from. CORRECTED: a read that arrives after a period closed makes the
// usage aggregator publish that period again (and every later closed period it changes) as a new
// event with the same meter_id, period and start. Keep the latest event per (meter_id, period,
// start) and replace, never add: summing every event double counts. A correction follows the event
// it replaces in the same partition (keyed by meter_id). A period is published only when the meter
// has a read in it and one at or before its start.
type UsageInterval struct {
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// Distribution transformer the meter is connected to.
	TransformerID string `json:"transformer_id"`
	// Medium-voltage feeder the transformer is fed from.
	FeederID string `json:"feeder_id"`
	// Length of the period: hour, or a calendar day.
	Period string `json:"period"`
	// Start of the period, inclusive. Hours start on the hour in UTC; days at midnight in the usage
	// aggregator's time zone (USAGE_TIME_ZONE, default UTC), with its offset. With meter_id and
	// period, the identity of the interval: corrections repeat it.
	Start time.Time `json:"start"`
	// End of the period, exclusive.
	End time.Time `json:"end"`
	// Energy imported in the period, in kWh: R(end) - R(start), R(T) being the meter's latest
	// register read at or before T. No interpolation: when reads are missing, the next read's whole
	// difference goes to the period it falls in, so consecutive periods add up to the register
	// difference. Never negative; already a difference, so sum it over periods (after keeping the
	// latest per period), not across corrections.
	EnergyKWh float64 `json:"energy_kwh"`
	// Reads received with read_at in (start, end]: a read covers the interval ending at its
	// read_at, so a read on the hour ends the previous hour.
	Reads int `json:"reads"`
	// Reads the meter's interval implies for the period: 4 an hour at 15 minutes. reads below it
	// means some were missing (and may still arrive, as a correction).
	ReadsExpected int `json:"reads_expected"`
	// true when part of energy_kwh is estimated because reads were missing; absent or false when
	// measured. The usage aggregator does not estimate: it leaves this absent.
	Estimated bool `json:"estimated,omitempty"`
	// Highest demand_kw among the period's reads, in kW.
	MaxDemandKW *float64 `json:"max_demand_kw,omitempty"`
	// R(start), in kWh: the cumulative register of the meter's latest read at or before start.
	RegisterStartKWh *float64 `json:"register_start_kwh,omitempty"`
	// R(end), in kWh: the cumulative register of the meter's latest read in the period.
	RegisterEndKWh *float64 `json:"register_end_kwh,omitempty"`
}

// UsageUnusual is the payload of usage.unusual.v1.
//
// A meter used far more energy in one day than it usually does, judged by the usage insights
// service on the latest usage.interval.v1 of the day against the mean of the meter's previous
// complete days. One judgement per (meter_id, start); not corrected.
type UsageUnusual struct {
	// Utility identifier of the meter. The Kafka record key.
	MeterID string `json:"meter_id"`
	// Distribution transformer the meter is connected to.
	TransformerID string `json:"transformer_id"`
	// Medium-voltage feeder the transformer is fed from.
	FeederID string `json:"feeder_id"`
	// Length of the period judged: "day".
	Period string `json:"period"`
	// Start of the day, inclusive, with its offset.
	Start time.Time `json:"start"`
	// End of the day, exclusive.
	End time.Time `json:"end"`
	// Energy the meter used in the day, in kWh.
	EnergyKWh float64 `json:"energy_kwh"`
	// Mean daily energy of the meter's previous complete days, in kWh.
	BaselineKWh float64 `json:"baseline_kwh"`
	// Days the baseline is the mean of.
	BaselineDays int `json:"baseline_days"`
	// EnergyKWh / BaselineKWh.
	Ratio float64 `json:"ratio"`
	// The ratio above which a day is unusual.
	Threshold float64 `json:"threshold"`
	// Median daily energy of the transformer's meters for the same day, in kWh; nil when no other
	// meter of the transformer has that day.
	CohortMedianKWh *float64 `json:"cohort_median_kwh,omitempty"`
}

// FeederLoadForecast is the payload of feeder.load.forecast.v1.
//
// The load of one feeder forecast for the next 24 hours, hour by hour, by one model, issued every
// hour of grid time. Never corrected: the next hour brings a new forecast.
type FeederLoadForecast struct {
	// The feeder forecast. The Kafka record key.
	FeederID string `json:"feeder_id"`
	// How the forecast was made: "seasonal_naive" (the baseline) or "day_type_profile".
	Model string `json:"model"`
	// Grid time the forecast was made at, on the hour; the first point starts here.
	IssuedAt time.Time `json:"issued_at"`
	// Hours of the feeder's load history the forecast was made from.
	HistoryHours int `json:"history_hours"`
	// The forecast, one point per hour in time order.
	Points []LoadPoint `json:"points"`
}

// LoadPoint is one hour of a feeder.load.forecast.v1.
type LoadPoint struct {
	// Start of the hour, inclusive.
	Start time.Time `json:"start"`
	// End of the hour, exclusive.
	End time.Time `json:"end"`
	// Forecast average load over the hour, in kW.
	LoadKW float64 `json:"load_kw"`
}

// FeederLoad is the payload of feeder.load.v1.
//
// Load and voltage quality of one transformer or feeder over a 15-minute window, aggregated from
// its meters' reads. Published once per element and window when the window closes in event time
// (transformer level, then feeder level summing its transformers), and NOT corrected: reads that
// arrive after their window closed are dropped, so the figures are an operational view and
// usage.interval.v1 is the exact, corrected energy. A transformer whose meters all went silent is
// still published, with meters_reporting 0.
type FeederLoad struct {
	// What id names: a transformer or a feeder.
	Level string `json:"level"`
	// The transformer or feeder the window describes; the record key.
	ID string `json:"id"`
	// The feeder it belongs to; equals id at feeder level.
	FeederID string `json:"feeder_id"`
	// Start of the window, inclusive; a read belongs to the window when its read_at is in (start,
	// end].
	Start time.Time `json:"start"`
	// End of the window, exclusive.
	End time.Time `json:"end"`
	// Average load over the window, in kW: the sum over the reporting meters of their time-weighted
	// average demand (demand_kw x interval_s / window length). Negative when the element exported.
	LoadKW float64 `json:"load_kw"`
	// Highest 15-minute load in the window, in kW.
	PeakLoadKW *float64 `json:"peak_load_kw,omitempty"`
	// Energy delivered through the element in the window, in kWh: the sum over its meters of R(end)
	// - R(start), R(T) a meter's latest register read at or before T (a difference of cumulative
	// registers, exact to 0.001 kWh).
	EnergyKWh float64 `json:"energy_kwh"`
	// Lowest RMS voltage a reporting meter saw in the window, in volts; absent when no meter
	// reported voltage.
	VoltageMinVolts *float64 `json:"voltage_min_v,omitempty"`
	// Highest RMS voltage a reporting meter saw in the window, in volts; absent when no meter
	// reported voltage.
	VoltageMaxVolts *float64 `json:"voltage_max_v,omitempty"`
	// Mean RMS voltage over the reporting meters, in volts; absent when no meter reported voltage.
	VoltageAvgVolts *float64 `json:"voltage_avg_v,omitempty"`
	// Meters with at least one read in the window.
	MetersReporting int `json:"meters_reporting"`
	// Meters connected to the element.
	MetersExpected int `json:"meters_expected"`
}

// OutageSuspected is the payload of outage.suspected.v1.
//
// Many meters under one transformer went silent at once: a probable supply outage, from the outage
// detector (an edge agent).
type OutageSuspected struct {
	// Id of this outage; the outage.restored.v1 that ends it carries the same id.
	OutageID string `json:"outage_id"`
	// The transformer whose meters went silent; the record key.
	TransformerID string `json:"transformer_id"`
	// Medium-voltage feeder the transformer is fed from.
	FeederID string `json:"feeder_id"`
	// Meters under the transformer that stopped reporting.
	MetersSilent []string `json:"meters_silent"`
	// Meters connected to the transformer.
	MetersTotal int `json:"meters_total"`
	// Share of the transformer's meters that are silent: len(meters_silent) / meters_total, from 0
	// to 1.
	SilentShare float64 `json:"silent_share"`
	// The earliest expected read that did not come among the silent meters: the best estimate of
	// when supply failed.
	FirstSilentAt time.Time `json:"first_silent_at"`
	// When the outage detector raised the suspicion.
	DetectedAt time.Time `json:"detected_at"`
	// What the suspicion rests on.
	Evidence OutageEvidence `json:"evidence"`
}

// OutageRestored is the payload of outage.restored.v1.
//
// Reads resumed under a transformer with a suspected outage: supply is back. Ends the
// outage.suspected.v1 with the same outage_id.
type OutageRestored struct {
	// Id of the outage, from its outage.suspected.v1.
	OutageID string `json:"outage_id"`
	// The transformer; the record key.
	TransformerID string `json:"transformer_id"`
	// Medium-voltage feeder the transformer is fed from.
	FeederID string `json:"feeder_id"`
	// Estimated start of the outage, from the suspected event.
	FirstSilentAt time.Time `json:"first_silent_at"`
	// detected_at of the outage.suspected.v1 event.
	SuspectedAt time.Time `json:"suspected_at"`
	// read_at of the first read after the outage: when supply came back.
	RestoredAt time.Time `json:"restored_at"`
	// restored_at minus first_silent_at, in seconds: the outage the customers experienced.
	DurationSeconds float64 `json:"duration_s"`
	// Meters that were silent.
	MetersAffected int `json:"meters_affected"`
	// Of those, meters reporting again.
	MetersRestored int `json:"meters_restored"`
	// Meters still silent: possibly a separate fault at the premise; absent when none.
	MetersStillSilent []string `json:"meters_still_silent,omitempty"`
	// When the outage detector saw the restoration.
	DetectedAt time.Time `json:"detected_at"`
}

// Heartbeat is the payload of system.heartbeat.v1.
//
// Every service instance publishes one every interval_s: its 'I am alive' and its registration.
// What it publishes and subscribes with is how the ecosystem discovers demand.
type Heartbeat struct {
	// Service name, as in its ce_source /services/<name>: lower-case letters, digits and dashes.
	Service string `json:"service"`
	// Version of the service, semantic versioning (e.g. 1.4.2).
	Version string `json:"version"`
	// Id of the running instance (pod name or host-pid); a restart gets a new one.
	Instance string `json:"instance"`
	// When the instance started.
	StartedAt time.Time `json:"started_at"`
	// Seconds since started_at.
	UptimeSeconds float64 `json:"uptime_s"`
	// Seconds until the next heartbeat; monitors declare the instance down after a few missed
	// intervals.
	IntervalSeconds float64 `json:"interval_s"`
	// Event types the service publishes and has not retired; absent when none.
	Publishes []string `json:"publishes,omitempty"`
	// The rivers the service subscribes with; absent when none.
	Subscribes []Subscription `json:"subscribes,omitempty"`
	// Event types the service stopped publishing after a system.retirement.v1; absent when none.
	Retired []string `json:"retired,omitempty"`
	// Event types the service was told it will stop publishing (a system.retirement.v1 notice)
	// and still publishes; absent when none. A subscriber appearing before effective_at cancels
	// the notice.
	Retiring []RetirementNotice `json:"retiring,omitempty"`
	// Records between the service's committed offsets and the end of its topics, summed over
	// partitions.
	LagRecords int `json:"lag_records"`
	// When the service last finished handling an event; absent before the first.
	LastProcessedAt time.Time `json:"last_processed_at,omitzero"`
	// Events handled since the instance started.
	ProcessedTotal int `json:"processed_total,omitempty"`
	// Events sent to a dead-letter topic since the instance started.
	DeadLetteredTotal int `json:"dead_lettered_total,omitempty"`
	// Events dropped past their use-by (ce_expirytime) since the instance started.
	ExpiredTotal int `json:"expired_total,omitempty"`
	// Whether the instance is ready to work, as its /readyz reports.
	Ready bool `json:"ready"`
}

// RetirementNotice is a retirement notice a service has received and that has not taken
// effect (system.heartbeat.v1's retiring).
type RetirementNotice struct {
	// The event type under notice.
	Type string `json:"type"`
	// When the service stops publishing it unless a subscriber appears first.
	EffectiveAt time.Time `json:"effective_at"`
	// Why, as the demand tracker put it (for example: no active subscriber).
	Reason string `json:"reason,omitempty"`
}

// Retirement is the payload of system.retirement.v1.
//
// The ecosystem tells a publisher that nobody wants one of its event types (notice), that the
// grace period is over (retired), or that demand returned (reinstated). The SDK obeys.
type Retirement struct {
	// The publishing service the decision is for, as in its ce_source /services/<name>.
	Service string `json:"service"`
	// The event type retired or reinstated.
	EventType string `json:"event_type"`
	// notice: publishing stops after grace_s; retired: stop now; reinstated: publish again.
	Phase string `json:"phase"`
	// For notice, seconds the publisher keeps publishing before the type is retired; 0 for retired
	// and reinstated.
	GraceSeconds float64 `json:"grace_s"`
	// When the phase takes effect: decided_at + grace_s for a notice.
	EffectiveAt time.Time `json:"effective_at"`
	// Why, e.g. 'no non-passive subscriber for 24h'.
	Reason string `json:"reason"`
	// Non-passive subscribers of event_type seen in heartbeats when deciding.
	Subscribers int `json:"subscribers"`
	// When a non-passive subscriber of event_type was last seen; absent if never.
	LastDemandAt time.Time `json:"last_demand_at,omitzero"`
	// When the decision was made.
	DecidedAt time.Time `json:"decided_at"`
}

// ServiceStarted is the payload of system.service.started.v1.
//
// A service instance started and is about to heartbeat.
type ServiceStarted struct {
	// Service name, as in its ce_source /services/<name>: lower-case letters, digits and dashes.
	Service string `json:"service"`
	// Version of the service, semantic versioning (e.g. 1.4.2).
	Version string `json:"version"`
	// Id of the running instance (pod name or host-pid); a restart gets a new one.
	Instance string `json:"instance"`
	// When the instance started.
	StartedAt time.Time `json:"started_at"`
	// Host or node the instance runs on.
	Host string `json:"host,omitempty"`
	// Operating-system process id.
	Pid int `json:"pid,omitempty"`
}

// ServiceStopping is the payload of system.service.stopping.v1.
//
// A service instance is shutting down cleanly: a monitor should not report it down.
type ServiceStopping struct {
	// Service name, as in its ce_source /services/<name>: lower-case letters, digits and dashes.
	Service string `json:"service"`
	// Version of the service, semantic versioning (e.g. 1.4.2).
	Version string `json:"version"`
	// Id of the running instance (pod name or host-pid); a restart gets a new one.
	Instance string `json:"instance"`
	// Why it stops, e.g. SIGTERM, context cancelled, fatal configuration error.
	Reason string `json:"reason"`
	// When the shutdown began.
	StoppingAt time.Time `json:"stopping_at"`
	// Seconds the instance ran.
	UptimeSeconds float64 `json:"uptime_s"`
	// Seconds it allows itself to finish in-flight events and flush.
	DrainTimeoutSeconds float64 `json:"drain_timeout_s,omitempty"`
}

// ServiceDown is the payload of system.service.down.v1.
//
// The heartbeat monitor stopped hearing from a service instance that did not say it was stopping.
type ServiceDown struct {
	// Service name, as in its ce_source /services/<name>: lower-case letters, digits and dashes.
	Service string `json:"service"`
	// Id of the silent instance.
	Instance string `json:"instance"`
	// Version of the service, semantic versioning (e.g. 1.4.2).
	Version string `json:"version,omitempty"`
	// ce_time of the last heartbeat received from the instance.
	LastHeartbeatAt time.Time `json:"last_heartbeat_at"`
	// Heartbeat intervals missed when declared down.
	MissedHeartbeats int `json:"missed_heartbeats"`
	// The instance's announced heartbeat interval, in seconds.
	IntervalSeconds float64 `json:"interval_s"`
	// Other instances of the service still heartbeating.
	InstancesRemaining int `json:"instances_remaining"`
	// When the monitor declared the instance down.
	DetectedAt time.Time `json:"detected_at"`
}

// ServiceUp is the payload of system.service.up.v1.
//
// The heartbeat monitor hears a service instance it had not heard (a new service, or one back from
// down).
type ServiceUp struct {
	// Service name, as in its ce_source /services/<name>: lower-case letters, digits and dashes.
	Service string `json:"service"`
	// Id of the running instance (pod name or host-pid); a restart gets a new one.
	Instance string `json:"instance"`
	// Version of the service, semantic versioning (e.g. 1.4.2).
	Version string `json:"version"`
	// ce_time of the instance's first heartbeat the monitor received.
	FirstHeartbeatAt time.Time `json:"first_heartbeat_at"`
	// true when the monitor had never seen any instance of this service.
	NewService bool `json:"new_service,omitempty"`
	// When the service had been declared down, if it had; absent otherwise.
	DownSince time.Time `json:"down_since,omitzero"`
	// Seconds between down_since and first_heartbeat_at; absent with down_since.
	DowntimeSeconds float64 `json:"downtime_s,omitempty"`
	// When the monitor saw it.
	DetectedAt time.Time `json:"detected_at"`
}

// ServiceRestarted is the payload of system.service.restarted.v1.
//
// The supervisor restarted a service process (it exited, or stopped heartbeating).
type ServiceRestarted struct {
	// Service name, as in its ce_source /services/<name>: lower-case letters, digits and dashes.
	Service string `json:"service"`
	// Id of the new instance.
	Instance string `json:"instance"`
	// Id of the instance it replaces, when known.
	PreviousInstance string `json:"previous_instance,omitempty"`
	// Why, e.g. 'exited with code 2' or 'no heartbeat for 30s'.
	Reason string `json:"reason"`
	// Exit code of the previous process, when it exited.
	ExitCode *int `json:"exit_code,omitempty"`
	// Restart number within the supervisor's restart window, from 1.
	Attempt int `json:"attempt"`
	// Seconds the supervisor waited before this restart.
	BackoffSeconds float64 `json:"backoff_s"`
	// When the new process started.
	RestartedAt time.Time `json:"restarted_at"`
}

// ClockSkew is the payload of system.clock.skew.v1.
//
// The clock watch found a source whose clock drifts: its event times differ from the broker's
// record times by more than a threshold.
type ClockSkew struct {
	// The drifting source: a ce_source such as /services/<name>, or /meters/<meter_id> for a meter
	// clock.
	Source string `json:"source"`
	// Median of (source event time - reference time) over the samples, in seconds: positive when
	// the source's clock is ahead.
	OffsetSeconds float64 `json:"offset_s"`
	// Absolute offset above which a source is reported, in seconds.
	ThresholdSeconds float64 `json:"threshold_s"`
	// Events the offset was measured on.
	Samples int `json:"samples"`
	// Length of the window the samples came from, in seconds.
	WindowSeconds float64 `json:"window_s,omitempty"`
	// When the skew was detected.
	DetectedAt time.Time `json:"detected_at"`
}

// States of system.monitor.lagging.v1.
const (
	MonitorLaggingStateLagging   = "lagging"
	MonitorLaggingStateRecovered = "recovered"
)

// MonitorLagging is the payload of system.monitor.lagging.v1.
//
// A monitor (heartbeat-monitor, registry, demand-tracker) knows it is behind in the stream it
// watches and withholds the verdicts that depend on what it has not read yet (state lagging);
// published again when it has caught up (state recovered).
type MonitorLagging struct {
	// Service name of the monitor, as in its ce_source /services/<name>: lower-case letters, digits
	// and dashes.
	Monitor string `json:"monitor"`
	// Id of the monitor's instance.
	Instance string `json:"instance"`
	// lagging: the monitor is behind and withholds verdicts; recovered: it has read to the end of
	// every partition it reads, for its settling time, and judges again.
	State string `json:"state"`
	// The Kafka topic the monitor watches (the rivers).
	Topic string `json:"topic,omitempty"`
	// Records that followed the monitor's last read record in their partitions when it was fetched,
	// summed over partitions (0 when recovered).
	BehindRecords int64 `json:"behind_records"`
	// The monitor's position in the stream: the oldest, over the partitions it is behind on, of the
	// newest record time it has read (the newest record time read when recovered).
	Position time.Time `json:"position"`
	// How far behind the monitor is, in seconds: detected_at - position (0 when it cannot tell).
	LagSeconds float64 `json:"lag_s"`
	// When the monitor found it was behind, for this episode.
	LaggingSince time.Time `json:"lagging_since"`
	// Verdicts withheld while behind (instances not declared down, not dropped, retirements not
	// decided), when the monitor counts them.
	Withheld int `json:"withheld,omitempty"`
	// When the monitor found it was behind (lagging) or caught up (recovered).
	DetectedAt time.Time `json:"detected_at"`
}

// MeterCommand is the payload of meter.command.v1.
//
// A command to one meter: one attempt of a command the command dispatcher took from a
// meter.command.requested.v1 (or a missed read), delivered by a gateway or the simulator,
// acknowledged with meter.command.ack.v1 or replayed until max_attempts.
type MeterCommand struct {
	// Id of the command; every attempt carries it, and so do the acks.
	CommandID string `json:"command_id"`
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// What the meter should do.
	Command string `json:"command"`
	// Arguments of the command; which apply depends on command.
	Parameters CommandParameters `json:"parameters,omitzero"`
	// When the command was first issued (unchanged across attempts).
	IssuedAt time.Time `json:"issued_at"`
	// Attempt number, from 1; a replay increments it.
	Attempt int `json:"attempt"`
	// Attempts after which the command is given up as failed.
	MaxAttempts int `json:"max_attempts"`
	// Seconds to wait for an ack before the attempt counts as failed.
	AckTimeoutSeconds float64 `json:"ack_timeout_s"`
	// Who asked: an operator's id, a service (/services/<name>) or a customer channel.
	RequestedBy string `json:"requested_by"`
}

// MeterCommandAck is the payload of meter.command.ack.v1.
//
// A meter's answer to one attempt of a meter.command.v1, relayed by its gateway.
type MeterCommandAck struct {
	// command_id of the command acknowledged.
	CommandID string `json:"command_id"`
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// The attempt acknowledged.
	Attempt int `json:"attempt"`
	// accepted: received, will act; completed: done; failed: tried and failed; rejected: refused
	// (unknown or unsupported command).
	Status string `json:"status"`
	// Detail for failed and rejected.
	Reason string `json:"reason,omitempty"`
	// When the meter answered, from the gateway's clock.
	AckedAt time.Time `json:"acked_at"`
}

// MeterCommandRequested is the payload of meter.command.requested.v1.
//
// Someone asks for a command to one meter: the command dispatcher sends it (meter.command.v1),
// replays it until acknowledged or max_attempts, and publishes the outcome
// (meter.command.outcome.v1). The event's use-by (ce_expirytime) is the command's: past it the
// command is not sent again and ends expired. Requests with a command_id already known are
// duplicates and change nothing.
type MeterCommandRequested struct {
	// Id of the command, chosen by the requester; the dispatcher keeps one command per id (a
	// repeated request is a duplicate). Attempts, acks and the outcome carry it.
	CommandID string `json:"command_id"`
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// What the meter should do.
	Command string `json:"command"`
	// Arguments of the command; which apply depends on command.
	Parameters CommandParameters `json:"parameters,omitzero"`
	// Who asked: an operator's id, a service (/services/<name>) or a customer channel.
	RequestedBy string `json:"requested_by"`
	// Attempts after which the command is given up as failed; absent: the dispatcher's default.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Seconds to wait for an ack to each attempt before replaying it; absent: the dispatcher's
	// default.
	AckTimeoutSeconds float64 `json:"ack_timeout_s,omitempty"`
}

// MeterCommandOutcome is the payload of meter.command.outcome.v1.
//
// How a command to one meter ended, from the command dispatcher: acknowledged by the meter,
// failed (after max_attempts without an ack, or refused by the meter), or expired past its
// use-by. One per command_id.
type MeterCommandOutcome struct {
	// Id of the command, as requested.
	CommandID string `json:"command_id"`
	// Utility identifier of the meter (serial number or supply point id). The Kafka record key.
	MeterID string `json:"meter_id"`
	// What the meter should do.
	Command string `json:"command"`
	// Arguments of the command; which apply depends on command.
	Parameters CommandParameters `json:"parameters,omitzero"`
	// acknowledged: the meter accepted or completed it; failed: refused by the meter, or no ack
	// after max_attempts (see reason); expired: its use-by passed before an ack.
	Outcome string `json:"outcome"`
	// Why the command failed or expired; absent when acknowledged.
	Reason string `json:"reason,omitempty"`
	// Attempts sent to the meter (0 when it expired or was refused before the first).
	Attempts int `json:"attempts"`
	// Attempts allowed.
	MaxAttempts int `json:"max_attempts"`
	// status of the last meter.command.ack.v1 received, when any.
	AckStatus string `json:"ack_status,omitempty"`
	// acked_at of that ack, when any.
	AckedAt time.Time `json:"acked_at,omitzero"`
	// Who asked: an operator's id, a service (/services/<name>) or a customer channel.
	RequestedBy string `json:"requested_by"`
	// When the dispatcher took the request (issued_at of its attempts).
	RequestedAt time.Time `json:"requested_at"`
	// When the dispatcher decided the outcome.
	DecidedAt time.Time `json:"decided_at"`
}

// OutageEvidence is what the suspicion rests on.
type OutageEvidence struct {
	// meter.reading.missed.v1 events under the transformer counted in the window.
	MissedReads int `json:"missed_reads"`
	// Reads carrying the power_fail flag under the transformer in the window.
	PowerFailFlags int `json:"power_fail_flags"`
	// Length of the correlation window, in seconds.
	WindowSeconds float64 `json:"window_s"`
	// silent_share at or above which an outage is suspected, from 0 to 1.
	ThresholdShare float64 `json:"threshold_share"`
}

// Subscription is one river the service subscribes with: which events it accepts and what it reads
// of them.
type Subscription struct {
	// Event types the river accepts, checked on the ce_type header before any decoding.
	Types []string `json:"types"`
	// Topic the river reads: rapids, rivers, or their configured names.
	Topic string `json:"topic"`
	// Kafka consumer group of the river.
	Group string `json:"group,omitempty"`
	// Payload keys an event must have to reach the handler.
	Require []string `json:"require,omitempty"`
	// Payload keys that must have exactly these values.
	RequireValues map[string]any `json:"require_values,omitempty"`
	// Payload keys an event must not have.
	Forbid []string `json:"forbid,omitempty"`
	// Optional payload keys the handler reads when present.
	Interested []string `json:"interested,omitempty"`
	// true for observers (archivers, monitors, taps) whose subscription does not count as demand
	// when deciding retirement.
	Passive bool `json:"passive"`
}

// CommandParameters is arguments of the command; which apply depends on command.
type CommandParameters struct {
	// For set_interval: the new reporting interval, in seconds.
	IntervalSeconds int `json:"interval_s,omitempty"`
	// For display_message: the text for the in-home display.
	Message string `json:"message,omitempty"`
	// For read_now: the end of the interval to read again (read_at of the reading to send once
	// more, e.g. a missed one). Absent: the meter's latest read.
	ReadAt time.Time `json:"read_at,omitzero"`
}

// EstimateNeeded is the payload of estimate.needed.v1: a need for the estimate of one missed
// read (rivers need/solution convention).
type EstimateNeeded struct {
	NeedID          string    `json:"need_id"`
	Asker           string    `json:"asker"`
	Deadline        time.Time `json:"deadline"`
	MeterID         string    `json:"meter_id"`
	TransformerID   string    `json:"transformer_id"`
	FeederID        string    `json:"feeder_id"`
	ExpectedAt      time.Time `json:"expected_at"`
	IntervalSeconds int       `json:"interval_s"`
	// Length of the gap in intervals; 0: not given.
	GapIntervals int `json:"gap_intervals,omitempty"`
	// The last actual read before the gap; zero time: unknown.
	BeforeReadAt         time.Time `json:"before_read_at,omitzero"`
	BeforeEnergyKWhTotal *float64  `json:"before_energy_kwh_total,omitempty"`
	// The first actual read after the gap; zero time: the meter is still silent.
	AfterReadAt         time.Time `json:"after_read_at,omitzero"`
	AfterEnergyKWhTotal *float64  `json:"after_energy_kwh_total,omitempty"`
}

// EstimateSolution is the payload of estimate.solution.v1: one estimator's answer to an
// estimate.needed.v1.
type EstimateSolution struct {
	NeedID         string    `json:"need_id"`
	Asker          string    `json:"asker"`
	Solver         string    `json:"solver"`
	SolverVersion  string    `json:"solver_version"`
	AskedAt        time.Time `json:"asked_at"`
	MeterID        string    `json:"meter_id"`
	ExpectedAt     time.Time `json:"expected_at"`
	Method         string    `json:"method"`
	EnergyKWhTotal float64   `json:"energy_kwh_total"`
	EnergyKWh      float64   `json:"energy_kwh"`
	Confidence     float64   `json:"confidence"`
}

// MeterReadingEstimated is the payload of meter.reading.estimated.v1: the billing estimate of a
// missed read.
type MeterReadingEstimated struct {
	MeterID         string    `json:"meter_id"`
	TransformerID   string    `json:"transformer_id"`
	FeederID        string    `json:"feeder_id"`
	ReadAt          time.Time `json:"read_at"`
	IntervalSeconds int       `json:"interval_s"`
	EnergyKWhTotal  float64   `json:"energy_kwh_total"`
	EnergyKWh       float64   `json:"energy_kwh"`
	Method          string    `json:"method"`
	Confidence      float64   `json:"confidence"`
	NeedID          string    `json:"need_id"`
	Solver          string    `json:"solver"`
	SolverVersion   string    `json:"solver_version"`
	Candidates      int       `json:"candidates"`
}

// MeterReadingAdjusted is the payload of meter.reading.adjusted.v1: the true-up of an estimated
// read whose actual read arrived.
type MeterReadingAdjusted struct {
	MeterID                 string    `json:"meter_id"`
	ReadAt                  time.Time `json:"read_at"`
	EstimatedEnergyKWhTotal float64   `json:"estimated_energy_kwh_total"`
	ActualEnergyKWhTotal    float64   `json:"actual_energy_kwh_total"`
	DeltaKWh                float64   `json:"delta_kwh"`
	Method                  string    `json:"method"`
	NeedID                  string    `json:"need_id"`
	Solver                  string    `json:"solver"`
	SolverVersion           string    `json:"solver_version"`
}

// BillingPeriod is the payload of billing.period.v1: one meter's energy in one billing period,
// measured and estimated. Keep the latest revision per (meter_id, period, start).
type BillingPeriod struct {
	MeterID            string    `json:"meter_id"`
	Period             string    `json:"period"`
	Start              time.Time `json:"start"`
	End                time.Time `json:"end"`
	TotalKWh           float64   `json:"total_kwh"`
	MeasuredKWh        float64   `json:"measured_kwh"`
	EstimatedKWh       float64   `json:"estimated_kwh"`
	MeasuredIntervals  int       `json:"measured_intervals"`
	EstimatedIntervals int       `json:"estimated_intervals"`
	Revision           int       `json:"revision"`
}
