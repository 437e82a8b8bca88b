// Package billingestimator is the billing-estimator service: it estimates
// missed meter reads (meter.reading.missed.v1) by asking the ecosystem for
// an estimate as a need (estimate.needed.v1) that every running version of
// the estimator answers (estimate.solution.v1) with its method —
// interpolation on the cumulative register, or the meter's same-weekday
// profile scaled to the register — publishes the best answer
// (meter.reading.estimated.v1), the true-up when the actual read arrives
// (meter.reading.adjusted.v1) and each meter's billing days with measured
// and estimated kWh (billing.period.v1). README.md has the rules and worked
// examples.
//
// Its state is rebuilt on every start by replaying its partitions' history
// (rivers.PartitionState): the readings, and on the asker the missed reads
// and its own needs, estimates, true-ups and billing periods, so a
// restarted or killed estimator concludes what one that never stopped does
// (README.md, "Restarts").
//
// # Environment
//
//	ESTIMATOR_METHOD    interpolation | profile (default interpolation)
//	ESTIMATOR_ASK       this instance asks and publishes estimates (default true)
//	ESTIMATOR_DEADLINE  how long the asker collects answers (default 5s)
//	ESTIMATOR_EXPECT    decide once this many answers came (default 0: at the deadline)
//	ESTIMATOR_HOLD      event time a silent meter's gap waits for the read after it (default 2h)
//	ESTIMATOR_HISTORY   record time of each assigned partition replayed to rebuild the state
//	                    (default 840h, 35 days: a month and its corrections; negative: all retained)
//
// plus the SDK's variables (see package rivers: SERVICE_NAME,
// SERVICE_VERSION, KAFKA_GROUP, KAFKA_*, HTTP_ADDR, ...).
package billingestimator
