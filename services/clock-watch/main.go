// Command clock-watch publishes system.clock.skew.v1 for sources whose
// event times drift from the broker's record times.
// See package clockwatch for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/clock-watch/clockwatch"
)

func main() {
	rivers.Main(clockwatch.Name, clockwatch.ConfigFromEnv, rivers.Registers(clockwatch.Register))
}
