// Command supervisor runs the service processes of a YAML manifest,
// restarts crashed ones with capped backoff, publishes
// system.service.restarted.v1 for each restart, and stops them in reverse
// order on SIGTERM. See package supervisor for the manifest.
package main

import (
	"flag"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/supervisor/supervisor"
)

var manifest = flag.String("manifest", "", "path of the YAML manifest (default $"+supervisor.EnvManifest+")")

func main() {
	rivers.Main(supervisor.Name, func() (supervisor.Config, error) {
		if *manifest != "" {
			return supervisor.Config{Manifest: *manifest}, nil
		}
		return supervisor.ConfigFromEnv()
	}, func(app *rivers.App, cfg supervisor.Config) error {
		svc, err := app.NewService()
		if err != nil {
			return err
		}
		sup, err := supervisor.Register(svc, cfg, supervisor.Options{})
		if err != nil {
			return err
		}
		// On SIGTERM the programs stop first (in reverse order) while the
		// service keeps its voice; then the service says it is stopping.
		app.Go(sup.Run)
		return nil
	})
}
