// Command river-archiver writes every event of the rivers topic into the
// object-store pond as Parquet. See package riverarchiver for its configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/river-archiver/riverarchiver"
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
		fmt.Fprintln(os.Stderr, riverarchiver.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(riverarchiver.Name, version)
	if err != nil {
		return err
	}
	cfg, err := riverarchiver.ConfigFromEnv()
	if err != nil {
		return err
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	if err := riverarchiver.Register(svc, cfg); err != nil {
		return err
	}
	return svc.Run(context.Background())
}
