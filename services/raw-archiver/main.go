// Command raw-archiver writes every event of the rapids topic into the
// object-store pond as Parquet. See package archiver for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/ponds/archiver"
	"github.com/watershed-grid/watershed/rivers"
)

func main() {
	rivers.Main(archiver.Name, archiver.ConfigFromEnv, rivers.Registers(archiver.Register))
}
