package billingestimator

import "github.com/watershed-grid/watershed/contracts/events"

// meterReadingEstimatedFromMeterReadingMissed returns the
// meter.reading.estimated.v1 the service publishes for a
// meter.reading.missed.v1, and whether to publish it.
//
// `watershed new service` wrote it as a start: it copies the fields both
// payloads have (meter_id, transformer_id, feeder_id, interval_s). It
// returns false, so nothing is published, until it also sets what
// meter.reading.estimated.v1 requires and meter.reading.missed.v1 does not
// carry: read_at, energy_kwh_total, energy_kwh, method, confidence,
// need_id, solver, solver_version, candidates
// (contracts/schemas/meter.reading.estimated.v1.json says what each means).
func meterReadingEstimatedFromMeterReadingMissed(in events.MeterReadingMissed) (events.MeterReadingEstimated, bool) {
	out := events.MeterReadingEstimated{
		MeterID:         in.MeterID,
		TransformerID:   in.TransformerID,
		FeederID:        in.FeederID,
		IntervalSeconds: in.IntervalSeconds,
	}
	return out, false
}

// meterReadingAdjustedFromMeterReadingMissed returns the
// meter.reading.adjusted.v1 the service publishes for a
// meter.reading.missed.v1, and whether to publish it.
//
// `watershed new service` wrote it as a start: it copies the fields both
// payloads have (meter_id). It returns false, so nothing is published,
// until it also sets what meter.reading.adjusted.v1 requires and
// meter.reading.missed.v1 does not carry: read_at,
// estimated_energy_kwh_total, actual_energy_kwh_total, delta_kwh, method,
// need_id, solver, solver_version
// (contracts/schemas/meter.reading.adjusted.v1.json says what each means).
func meterReadingAdjustedFromMeterReadingMissed(in events.MeterReadingMissed) (events.MeterReadingAdjusted, bool) {
	out := events.MeterReadingAdjusted{
		MeterID: in.MeterID,
	}
	return out, false
}

// billingPeriodFromMeterReadingMissed returns the billing.period.v1 the
// service publishes for a meter.reading.missed.v1, and whether to publish
// it.
//
// `watershed new service` wrote it as a start: it copies the fields both
// payloads have (meter_id). It returns false, so nothing is published,
// until it also sets what billing.period.v1 requires and
// meter.reading.missed.v1 does not carry: period, start, end, total_kwh,
// measured_kwh, estimated_kwh, measured_intervals, estimated_intervals,
// revision (contracts/schemas/billing.period.v1.json says what each means).
func billingPeriodFromMeterReadingMissed(in events.MeterReadingMissed) (events.BillingPeriod, bool) {
	out := events.BillingPeriod{
		MeterID: in.MeterID,
	}
	return out, false
}

// meterReadingEstimatedFromMeterReading returns the
// meter.reading.estimated.v1 the service publishes for a meter.reading.v1,
// and whether to publish it.
//
// `watershed new service` wrote it as a start: it copies the fields both
// payloads have (meter_id, transformer_id, feeder_id, read_at, interval_s,
// energy_kwh_total). It returns false, so nothing is published, until it
// also sets what meter.reading.estimated.v1 requires and meter.reading.v1
// does not carry: energy_kwh, method, confidence, need_id, solver,
// solver_version, candidates
// (contracts/schemas/meter.reading.estimated.v1.json says what each means).
func meterReadingEstimatedFromMeterReading(in events.MeterReading) (events.MeterReadingEstimated, bool) {
	out := events.MeterReadingEstimated{
		MeterID:         in.MeterID,
		TransformerID:   in.TransformerID,
		FeederID:        in.FeederID,
		ReadAt:          in.ReadAt,
		IntervalSeconds: in.IntervalSeconds,
		EnergyKWhTotal:  in.EnergyKWhTotal,
	}
	return out, false
}

// meterReadingAdjustedFromMeterReading returns the
// meter.reading.adjusted.v1 the service publishes for a meter.reading.v1,
// and whether to publish it.
//
// `watershed new service` wrote it as a start: it copies the fields both
// payloads have (meter_id, read_at). It returns false, so nothing is
// published, until it also sets what meter.reading.adjusted.v1 requires and
// meter.reading.v1 does not carry: estimated_energy_kwh_total,
// actual_energy_kwh_total, delta_kwh, method, need_id, solver,
// solver_version (contracts/schemas/meter.reading.adjusted.v1.json says
// what each means).
func meterReadingAdjustedFromMeterReading(in events.MeterReading) (events.MeterReadingAdjusted, bool) {
	out := events.MeterReadingAdjusted{
		MeterID: in.MeterID,
		ReadAt:  in.ReadAt,
	}
	return out, false
}

// billingPeriodFromMeterReading returns the billing.period.v1 the service
// publishes for a meter.reading.v1, and whether to publish it.
//
// `watershed new service` wrote it as a start: it copies the fields both
// payloads have (meter_id). It returns false, so nothing is published,
// until it also sets what billing.period.v1 requires and meter.reading.v1
// does not carry: period, start, end, total_kwh, measured_kwh,
// estimated_kwh, measured_intervals, estimated_intervals, revision
// (contracts/schemas/billing.period.v1.json says what each means).
func billingPeriodFromMeterReading(in events.MeterReading) (events.BillingPeriod, bool) {
	out := events.BillingPeriod{
		MeterID: in.MeterID,
	}
	return out, false
}
