// Command feeder-aggregator runs package feederagg as its own process against any Kafka
// broker (KAFKA_BROKERS). See package feederagg for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/feeder-aggregator/feederagg"
)

func main() {
	rivers.Main(feederagg.Name, feederagg.ConfigFromEnv, rivers.Registers(feederagg.Register))
}
