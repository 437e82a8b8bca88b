// Command raw-archiver writes every event of the rapids topic into the
// object-store pond as Parquet. See package archiver for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/raw-archiver/archiver"
)

func main() {
	rivers.Main(archiver.Name, archiver.ConfigFromEnv, rivers.Registers(archiver.Register))
}
