// Package loadforecaster is the load-forecaster service: it reads
// feeder.load.v1 (Transformer or feeder load) from the rivers and publishes
// feeder.load.forecast.v1 (Feeder load forecast), derived from what it
// reads.
//
// # Environment
//
// The SDK's variables (see package rivers: SERVICE_NAME, KAFKA_*,
// HTTP_ADDR, ...). The service has none of its own yet: add each to Config
// (config.go), here, and to README.md.
package loadforecaster
