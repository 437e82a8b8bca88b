// Command mqtt-gateway bridges meters on an MQTT broker to the rapids: each
// payload becomes a meter.reading.v1 event; bad ones go to rapids.dlq. See
// package gateway for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/mqtt-gateway/gateway"
)

func main() {
	rivers.Main(gateway.Name, gateway.ConfigFromEnv, rivers.Registers(gateway.Register))
}
