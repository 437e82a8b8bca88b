// Package billingestimator is the billing-estimator service: it reads
// meter.reading.missed.v1 (Missed meter reading) from the rivers,
// meter.reading.v1 (Meter reading) from the rapids and publishes
// meter.reading.estimated.v1 (Estimated meter reading),
// meter.reading.adjusted.v1 (Meter reading true-up), billing.period.v1
// (Billing period), derived from what it reads.
//
// # Environment
//
// The SDK's variables (see package rivers: SERVICE_NAME, KAFKA_*,
// HTTP_ADDR, ...). The service has none of its own yet: add each to Config
// (config.go), here, and to README.md.
package billingestimator
