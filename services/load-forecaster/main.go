// Command load-forecaster runs the load-forecaster service: see package loadforecaster
// and README.md.
package main

import (
	"github.com/watershed-grid/watershed/rivers"

	"github.com/watershed-grid/watershed/services/load-forecaster/loadforecaster"
)

func main() {
	rivers.Main(loadforecaster.Name, loadforecaster.ConfigFromEnv, rivers.Registers(loadforecaster.Register))
}
