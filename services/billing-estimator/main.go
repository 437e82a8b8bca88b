// Command billing-estimator runs the billing-estimator service: see package billingestimator
// and README.md.
package main

import (
	"github.com/watershed-grid/watershed/rivers"

	"github.com/watershed-grid/watershed/services/billing-estimator/billingestimator"
)

func main() {
	rivers.Main(billingestimator.Name, billingestimator.ConfigFromEnv, rivers.Registers(billingestimator.Register))
}
