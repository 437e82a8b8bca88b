// Command meter-simulator publishes the reads of a deterministic, simulated
// fleet of smart meters to the rapids. See package simulator for the model
// and its configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/meter-simulator/simulator"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	maxRate := flag.Bool("max-rate", false, "publish as fast as the broker accepts (SIM_RATE=max)")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	if err := run(*maxRate); err != nil {
		fmt.Fprintln(os.Stderr, simulator.Name+":", err)
		os.Exit(1)
	}
}

func run(maxRate bool) error {
	rc, err := rivers.ConfigFromEnv(simulator.Name, version)
	if err != nil {
		return err
	}
	cfg, err := simulator.ConfigFromEnv()
	if err != nil {
		return err
	}
	if maxRate {
		cfg.Rate = simulator.RateMax
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	if err := simulator.Register(svc, cfg); err != nil {
		return err
	}
	return svc.Run(context.Background())
}
