// Command alert-router runs package alertrouter as its own process against
// any Kafka broker (KAFKA_BROKERS). See package alertrouter for its
// configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/alert-router/alertrouter"
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
		fmt.Fprintln(os.Stderr, alertrouter.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(alertrouter.Name, version)
	if err != nil {
		return err
	}
	cfg, err := alertrouter.ConfigFromEnv()
	if err != nil {
		return err
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	s, err := alertrouter.Attach(svc, cfg, alertrouter.Options{})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return errors.Join(svc.Run(ctx), s.Close())
}
