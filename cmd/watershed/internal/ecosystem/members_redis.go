package ecosystem

import (
	"context"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
)

// withDevRedis makes a member that keeps its state in Redis when there is
// one — REDIS_URL (with the REDIS_* variables), else dev's in-process Redis
// (DevOptions.RedisURL) — and in memory otherwise: register gets the
// client, or nil. The client of each run is closed when the member stops.
func withDevRedis(opts DevOptions, name string, register func(c *redis.Client) (func(*rivers.Service) error, error)) (
	string, func() (func(*rivers.Service) error, error), func(context.Context, error) error) {
	var client *redis.Client // of the current run
	load := func() (func(*rivers.Service) error, error) {
		hc := hot.Config{URL: opts.RedisURL}
		if _, set := os.LookupEnv(hot.EnvURL); set {
			var err error
			if hc, err = hot.ConfigFromEnv(); err != nil {
				return nil, err
			}
		}
		if hc.URL == "" {
			return register(nil)
		}
		c, err := hot.NewClient(hc)
		if err != nil {
			return nil, err
		}
		client = c
		return register(c)
	}
	stop := func(context.Context, error) error {
		if client == nil {
			return nil
		}
		c := client
		client = nil
		return c.Close()
	}
	return name, load, stop
}
