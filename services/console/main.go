// Command console serves the operators' web pages: services and the demand
// graph, rivers live, dead letters with replay, the grid, and alerts with
// silences.
// See package console for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/console/console"
)

func main() {
	rivers.Main(console.Name, console.ConfigFromEnv, rivers.Attaches(console.Attach))
}
