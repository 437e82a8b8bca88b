// Command outage-detector runs package outage as its own process against any Kafka
// broker (KAFKA_BROKERS). See package outage for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/outage-detector/outage"
)

func main() {
	// After a clean stop, outage.Attach's Stopped writes the final checkpoint.
	rivers.Main(outage.Name, outage.ConfigFromEnv, rivers.Attaches(outage.Attach))
}
