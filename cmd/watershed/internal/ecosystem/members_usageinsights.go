package ecosystem

import (
	"context"

	"github.com/redis/go-redis/v9"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/usage-insights/usageinsights"
)

// usageInsightsMember is usage-insights in `watershed dev`, configured from
// its environment as when it runs alone, with its days in dev's Redis (the
// hot pond, where its API reads them) when there is one. Its preferences
// endpoint stays off unless INSIGHTS_API_TOKEN is set: it commands meters.
func usageInsightsMember(opts DevOptions) (string, func() (func(*rivers.Service) error, error), func(context.Context, error) error) {
	return withDevRedis(opts, usageinsights.Name, func(c *redis.Client) (func(*rivers.Service) error, error) {
		cfg, err := usageinsights.ConfigFromEnv()
		if c != nil {
			cfg.Store = usageinsights.NewRedisStore(c, "")
		}
		return func(svc *rivers.Service) error { return usageinsights.Register(svc, cfg) }, err
	})
}
