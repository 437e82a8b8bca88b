// Command load-forecaster runs the load-forecaster service: see package
// loadforecaster and README.md.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/load-forecaster/loadforecaster"
)

func main() {
	rivers.Main(loadforecaster.Name, configFromEnv, func(app *rivers.App, cfg config) error {
		if cfg.redis != nil { // the feeders' hours go to Redis
			client, err := hot.NewClient(*cfg.redis)
			if err != nil {
				return err
			}
			app.OnStop(func(context.Context, error) error { return client.Close() })
			cfg.Store = loadforecaster.NewRedisStore(client, "")
		}
		return rivers.Registers(loadforecaster.Register)(app, cfg.Config)
	})
}

// config is the service's configuration, and Redis's when REDIS_URL is set.
type config struct {
	loadforecaster.Config
	redis *hot.Config
}

func configFromEnv() (config, error) {
	var c config
	var err error
	c.Config, err = loadforecaster.ConfigFromEnv()
	if _, ok := os.LookupEnv(hot.EnvURL); ok {
		hc, herr := hot.ConfigFromEnv()
		c.redis, err = &hc, errors.Join(err, herr)
	}
	return c, err
}
