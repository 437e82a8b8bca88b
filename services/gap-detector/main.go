// Command gap-detector publishes meter.reading.missed.v1 for expected reads
// that did not come, and meter.reading.late.v1 when they come after all.
// See package gapdetector for its configuration.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/gap-detector/gapdetector"
)

func main() {
	rivers.Main(gapdetector.Name, configFromEnv, func(app *rivers.App, cfg config) error {
		if cfg.redis != nil { // the checkpoints go to Redis
			client, err := hot.NewClient(*cfg.redis)
			if err != nil {
				return err
			}
			app.OnStop(func(context.Context, error) error { return client.Close() }) // after the final checkpoint
			cfg.Checkpoints = gapdetector.StoreWithNotFound(hot.NewCheckpointStore(client, ""), hot.ErrNotFound)
		}
		// After a clean stop, Stopped writes the final checkpoint: a
		// restart needs no warm-up.
		return rivers.Attaches(gapdetector.Attach)(app, cfg.Config)
	})
}

// config is the detector's configuration, and Redis's when REDIS_URL is set.
type config struct {
	gapdetector.Config
	redis *hot.Config
}

func configFromEnv() (config, error) {
	var c config
	var err error
	c.Config, err = gapdetector.ConfigFromEnv()
	if _, ok := os.LookupEnv(hot.EnvURL); ok && c.Checkpoints == nil {
		hc, herr := hot.ConfigFromEnv()
		c.redis, err = &hc, errors.Join(err, herr)
	}
	return c, err
}
