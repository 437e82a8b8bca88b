// Command reading-validator checks every meter.reading.v1 on the rapids and
// publishes the exceptions — meter.reading.rejected.v1 and
// meter.reading.anomalous.v1 — to the rivers. See package validator for its
// rules and configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/reading-validator/validator"
)

func main() {
	rivers.Main(validator.Name, validator.ConfigFromEnv, rivers.Registers(validator.Register))
}
