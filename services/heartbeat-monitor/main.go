// Command heartbeat-monitor publishes system.service.down.v1 and
// system.service.up.v1 from the heartbeats of every service instance.
// See package heartbeatmonitor for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/heartbeat-monitor/heartbeatmonitor"
)

func main() {
	rivers.Main(heartbeatmonitor.Name, heartbeatmonitor.ConfigFromEnv, rivers.Registers(heartbeatmonitor.Register))
}
