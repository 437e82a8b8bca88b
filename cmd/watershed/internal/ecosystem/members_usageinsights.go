package ecosystem

import (
	"context"
	"os"

	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/usage-insights/usageinsights"
)

// usageInsightsMember is usage-insights in `watershed dev`, configured from
// its environment as when it runs alone, with its days in dev's Redis (the
// hot pond, where its API reads them) when there is one. Its preferences
// endpoint stays off unless INSIGHTS_API_TOKEN is set: it commands meters.
func usageInsightsMember(opts DevOptions) (string, func() (func(*rivers.Service) error, error), func(context.Context, error) error) {
	var client interface{ Close() error } // of the current run
	load := func() (func(*rivers.Service) error, error) {
		cfg, err := usageinsights.ConfigFromEnv()
		if err != nil {
			return nil, err
		}
		hc := hot.Config{URL: opts.RedisURL}
		if _, set := os.LookupEnv(hot.EnvURL); set {
			if hc, err = hot.ConfigFromEnv(); err != nil {
				return nil, err
			}
		}
		if hc.URL != "" {
			c, err := hot.NewClient(hc)
			if err != nil {
				return nil, err
			}
			client = c
			cfg.Store = usageinsights.NewRedisStore(c, "")
		}
		return func(svc *rivers.Service) error { return usageinsights.Register(svc, cfg) }, nil
	}
	stop := func(context.Context, error) error {
		if client == nil {
			return nil
		}
		c := client
		client = nil
		return c.Close()
	}
	return usageinsights.Name, load, stop
}
