// Command raw-archiver writes every event of the rapids topic into the
// object-store pond as Parquet. See package archiver for its configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/raw-archiver/archiver"
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
		fmt.Fprintln(os.Stderr, archiver.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(archiver.Name, version)
	if err != nil {
		return err
	}
	cfg, err := archiver.ConfigFromEnv()
	if err != nil {
		return err
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	if err := archiver.Register(svc, cfg); err != nil {
		return err
	}
	return svc.Run(context.Background())
}
