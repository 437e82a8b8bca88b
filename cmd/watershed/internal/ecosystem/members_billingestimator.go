package ecosystem

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/billing-estimator/billingestimator"
)

// billingEstimatorMember is billing-estimator in `watershed dev`, configured from
// its environment as when it runs alone. `watershed new service` wrote it;
// change it when the service needs more from dev (a data directory, the dev
// Redis: see members.go).
func billingEstimatorMember() (string, func() (func(*rivers.Service) error, error)) {
	return billingestimator.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := billingestimator.ConfigFromEnv()
		return func(svc *rivers.Service) error { return billingestimator.Register(svc, cfg) }, err
	}
}
