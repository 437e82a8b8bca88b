package ecosystem

import (
	"context"
	"os"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/alert-router/alertrouter"
)

// alertRouter returns the alert-router member's loader and stop hook. Its
// state goes to the dev Redis (REDIS_URL, else the one `watershed dev`
// started); without either, to memory (ALERT_STORE unset only). Set
// ALERT_WEBHOOK_URL to have every alert POSTed to a URL of yours.
func alertRouter(opts DevOptions) (load func() (func(*rivers.Service) error, error), stopped func(context.Context, error) error) {
	var current *alertrouter.Service // of the current run
	load = func() (func(*rivers.Service) error, error) {
		cfg, err := alertrouter.ConfigFromEnv()
		if err != nil {
			return nil, err
		}
		_, redisSet := os.LookupEnv("REDIS_URL")
		_, storeSet := os.LookupEnv(alertrouter.EnvStore)
		if !redisSet && opts.RedisURL == "" && !storeSet {
			cfg.Store = alertrouter.StoreMemory
		}
		o := alertrouter.Options{}
		if !redisSet {
			o.RedisURL = opts.RedisURL
		}
		return func(svc *rivers.Service) error {
			s, err := alertrouter.Attach(svc, cfg, o)
			current = s
			return err
		}, nil
	}
	stopped = func(context.Context, error) error {
		if current == nil {
			return nil
		}
		return current.Close()
	}
	return load, stopped
}
