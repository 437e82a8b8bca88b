// Command alert-router runs package alertrouter as its own process against
// any Kafka broker (KAFKA_BROKERS). See package alertrouter for its
// configuration.
package main

import (
	"context"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/alert-router/alertrouter"
)

func main() {
	rivers.Main(alertrouter.Name, alertrouter.ConfigFromEnv, func(app *rivers.App, cfg alertrouter.Config) error {
		svc, err := app.NewService()
		if err != nil {
			return err
		}
		s, err := alertrouter.Attach(svc, cfg, alertrouter.Options{})
		if err != nil {
			return err
		}
		app.OnStop(func(context.Context, error) error { return s.Close() })
		return nil
	})
}
