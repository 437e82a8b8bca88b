// Command registry serves the discovery view and demand graph built from
// heartbeats as JSON over HTTP.
// See package registry for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/registry/registry"
)

func main() {
	rivers.Main(registry.Name, registry.ConfigFromEnv, rivers.Registers(registry.Register))
}
