// Command command-dispatcher runs package dispatcher as its own process
// against any Kafka broker (KAFKA_BROKERS) and Redis (REDIS_URL). See
// package dispatcher for its configuration.
package main

import (
	"context"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/command-dispatcher/dispatcher"
)

func main() {
	rivers.Main(dispatcher.Name, dispatcher.ConfigFromEnv, func(app *rivers.App, cfg dispatcher.Config) error {
		svc, err := app.NewService()
		if err != nil {
			return err
		}
		_, closeRedis, err := dispatcher.Register(app.Context(), svc, cfg)
		if err != nil {
			return err
		}
		app.OnStop(func(context.Context, error) error { return closeRedis() })
		return nil
	})
}
