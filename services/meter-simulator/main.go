// Command meter-simulator publishes the reads of a deterministic, simulated
// fleet of smart meters to the rapids. See package simulator for the model
// and its configuration.
package main

import (
	"flag"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/meter-simulator/simulator"
)

var maxRate = flag.Bool("max-rate", false, "publish as fast as the broker accepts (SIM_RATE=max)")

func main() {
	rivers.Main(simulator.Name, func() (simulator.Config, error) {
		cfg, err := simulator.ConfigFromEnv()
		if *maxRate {
			cfg.Rate = simulator.RateMax
		}
		return cfg, err
	}, rivers.Registers(simulator.Register))
}
