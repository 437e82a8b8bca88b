// Command reading-validator checks every meter.reading.v1 on the rapids and
// publishes the exceptions — meter.reading.rejected.v1 and
// meter.reading.anomalous.v1 — to the rivers. See package validator for its
// rules and configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/reading-validator/validator"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, validator.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(validator.Name, version)
	if err != nil {
		return err
	}
	cfg, err := validator.ConfigFromEnv()
	if err != nil {
		return err
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	if err := validator.Register(svc, cfg); err != nil {
		return err
	}
	return svc.Run(context.Background())
}
