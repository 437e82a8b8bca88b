// Command usage-aggregator runs package usage as its own process against any Kafka
// broker (KAFKA_BROKERS). See package usage for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/usage-aggregator/usage"
)

func main() {
	// After a clean stop, usage.Attach's Stopped writes the final checkpoint.
	rivers.Main(usage.Name, usage.ConfigFromEnv, rivers.Attaches(usage.Attach))
}
