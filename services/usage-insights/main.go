// Command usage-insights runs the usage-insights service: see package
// usageinsights and README.md.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/usage-insights/usageinsights"
)

func main() {
	rivers.Main(usageinsights.Name, configFromEnv, func(app *rivers.App, cfg config) error {
		if cfg.redis != nil { // the days go to the hot pond
			client, err := hot.NewClient(*cfg.redis)
			if err != nil {
				return err
			}
			app.OnStop(func(context.Context, error) error { return client.Close() })
			cfg.Store = usageinsights.NewRedisStore(client, "")
		}
		return rivers.Registers(usageinsights.Register)(app, cfg.Config)
	})
}

// config is the service's configuration, and Redis's when REDIS_URL is set.
type config struct {
	usageinsights.Config
	redis *hot.Config
}

func configFromEnv() (config, error) {
	var c config
	var err error
	c.Config, err = usageinsights.ConfigFromEnv()
	if _, ok := os.LookupEnv(hot.EnvURL); ok {
		hc, herr := hot.ConfigFromEnv()
		c.redis, err = &hc, errors.Join(err, herr)
	}
	return c, err
}
