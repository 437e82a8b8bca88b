// Command dlq-replayer serves a summary of the dead-letter topics over HTTP;
// listing, showing and replaying dead letters is `watershed dlq`.
// See package dlq for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/dlq-replayer/dlq"
)

func main() {
	rivers.Main(dlq.Name, dlq.ConfigFromEnv, rivers.Registers(dlq.Register))
}
