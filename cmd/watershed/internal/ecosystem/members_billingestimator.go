package ecosystem

import (
	"os"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/billing-estimator/billingestimator"
)

// Two versions of billing-estimator side by side (issue #15): v1 asks for
// the estimates of missed reads and answers by interpolation, v2 answers
// by profile. Both run as the service billing-estimator, each version with
// its own consumer group, so the registry lists one service with two
// versions and `watershed compare billing-estimator` compares them. The
// ESTIMATOR_* variables, when set, apply to both.
const (
	billingEstimatorV1 = "v1-interpolation"
	billingEstimatorV2 = "v2-profile"
)

// billingEssential are the estimator's types meant for people and the pond
// (nothing subscribes to them actively): the demand tracker of dev never
// retires them unless DEMAND_ESSENTIAL says otherwise. Compose and the
// chart set the same list.
var billingEssential = []string{"meter.reading.estimated.v1", "meter.reading.adjusted.v1", "billing.period.v1"}

// billingEstimatorMember is billing-estimator v1 in `watershed dev`.
func billingEstimatorMember() (string, func() (func(*rivers.Service) error, error)) {
	return billingestimator.Name, billingEstimatorLoad(billingestimator.MethodInterpolation, true)
}

// billingEstimatorV2Member is billing-estimator v2, the member
// billing-estimator-v2 (dev's members need distinct names).
func billingEstimatorV2Member() (string, func() (func(*rivers.Service) error, error)) {
	return billingestimator.Name + "-v2", billingEstimatorLoad(billingestimator.MethodProfile, false)
}

func billingEstimatorLoad(method string, ask bool) func() (func(*rivers.Service) error, error) {
	return func() (func(*rivers.Service) error, error) {
		cfg, err := billingestimator.ConfigFromEnv()
		if _, set := os.LookupEnv("ESTIMATOR_METHOD"); !set {
			cfg.Method = method
		}
		if _, set := os.LookupEnv("ESTIMATOR_ASK"); !set {
			cfg.Ask = &ask
		}
		if _, set := os.LookupEnv("ESTIMATOR_EXPECT"); !set && ask {
			cfg.Expect = 2 // both versions answered: no need to wait for the deadline
		}
		return func(svc *rivers.Service) error { return billingestimator.Register(svc, cfg) }, err
	}
}

// billingEstimatorConfig names a version: the service name, version and
// consumer group its heartbeats, ce_source and offsets carry.
func billingEstimatorConfig(version string) func(*rivers.Config) {
	return func(c *rivers.Config) {
		c.Name = billingestimator.Name
		c.Version = version
		c.Group = billingestimator.Name + "-" + version[:2]
	}
}
