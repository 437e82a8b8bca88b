// Command demand-tracker retires event types nobody consumes and reinstates
// them when demand returns (system.retirement.v1).
// See package demandtracker for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/demand-tracker/demandtracker"
)

func main() {
	rivers.Main(demandtracker.Name, demandtracker.ConfigFromEnv, rivers.Registers(demandtracker.Register))
}
