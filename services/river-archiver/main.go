// Command river-archiver writes every event of the rivers topic into the
// object-store pond as Parquet. See package riverarchiver for its configuration.
package main

import (
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/river-archiver/riverarchiver"
)

func main() {
	rivers.Main(riverarchiver.Name, riverarchiver.ConfigFromEnv, rivers.Registers(riverarchiver.Register))
}
