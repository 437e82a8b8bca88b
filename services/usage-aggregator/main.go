// Command usage-aggregator runs package usage as its own process against any Kafka
// broker (KAFKA_BROKERS). See package usage for its configuration.
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
	"github.com/watershed-grid/watershed/services/usage-aggregator/usage"
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
		fmt.Fprintln(os.Stderr, usage.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(usage.Name, version)
	if err != nil {
		return err
	}
	cfg, err := usage.ConfigFromEnv()
	if err != nil {
		return err
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	s, err := usage.Attach(svc, cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = svc.Run(ctx)
	// After a clean stop, the final checkpoint (USAGE_CHECKPOINT_DIR).
	return errors.Join(err, s.Stopped(context.Background(), err))
}
