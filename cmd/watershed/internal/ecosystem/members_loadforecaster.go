package ecosystem

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/load-forecaster/loadforecaster"
)

// loadForecasterMember is load-forecaster in `watershed dev`, configured from
// its environment as when it runs alone. `watershed new service` wrote it;
// change it when the service needs more from dev (a data directory, the dev
// Redis: see members.go).
func loadForecasterMember() (string, func() (func(*rivers.Service) error, error)) {
	return loadforecaster.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := loadforecaster.ConfigFromEnv()
		return func(svc *rivers.Service) error { return loadforecaster.Register(svc, cfg) }, err
	}
}
