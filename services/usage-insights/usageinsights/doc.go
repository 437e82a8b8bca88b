// Package usageinsights is the usage-insights service (seed 003): it keeps
// each meter's days from the daily usage.interval.v1 (the latest event per
// (meter, day): usage is corrected), serves daily and weekly usage with the
// transformer's cohort over HTTP, publishes usage.unusual.v1 for a day far
// above the meter's baseline (see judge for the rule), and turns a
// customer's read-frequency preference into a meter.command.requested.v1.
//
// Its variables (INSIGHTS_*, REDIS_URL in main) are listed in README.md and
// on Config.
package usageinsights
