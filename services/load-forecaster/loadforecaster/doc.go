// Package loadforecaster is the load-forecaster service (stage 4,
// prediction): from the feeder-level feeder.load.v1 windows it keeps each
// feeder's hourly load and, every hour of grid time, publishes
// feeder.load.forecast.v1 with the next 24 hours per model: seasonal_naive
// (the baseline) and day_type_profile (see models.go). Its variables
// (FORECAST_*, REDIS_URL in main) are listed in README.md and on Config.
package loadforecaster
