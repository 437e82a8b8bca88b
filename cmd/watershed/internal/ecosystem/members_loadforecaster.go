package ecosystem

import (
	"context"

	"github.com/redis/go-redis/v9"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/load-forecaster/loadforecaster"
)

// loadForecasterMember is load-forecaster in `watershed dev`, configured
// from its environment as when it runs alone, with its feeders' history in
// dev's Redis when there is one (a restart of dev forecasts at once).
func loadForecasterMember(opts DevOptions) (string, func() (func(*rivers.Service) error, error), func(context.Context, error) error) {
	return withDevRedis(opts, loadforecaster.Name, func(c *redis.Client) (func(*rivers.Service) error, error) {
		cfg, err := loadforecaster.ConfigFromEnv()
		if c != nil {
			cfg.Store = loadforecaster.NewRedisStore(c, "")
		}
		return func(svc *rivers.Service) error { return loadforecaster.Register(svc, cfg) }, err
	})
}
