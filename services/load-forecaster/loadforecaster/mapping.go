package loadforecaster

import "github.com/watershed-grid/watershed/contracts/events"

// feederLoadForecastFromFeederLoad returns the feeder.load.forecast.v1 the
// service publishes for a feeder.load.v1, and whether to publish it.
//
// `watershed new service` wrote it as a start: it copies the fields both
// payloads have (feeder_id). It returns false, so nothing is published,
// until it also sets what feeder.load.forecast.v1 requires and
// feeder.load.v1 does not carry: model, issued_at, history_hours, points
// (contracts/schemas/feeder.load.forecast.v1.json says what each means).
func feederLoadForecastFromFeederLoad(in events.FeederLoad) (events.FeederLoadForecast, bool) {
	out := events.FeederLoadForecast{
		FeederID: in.FeederID,
	}
	return out, false
}
