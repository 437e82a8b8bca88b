// Command command-dispatcher runs package dispatcher as its own process
// against any Kafka broker (KAFKA_BROKERS) and Redis (REDIS_URL). See
// package dispatcher for its configuration.
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
	"github.com/watershed-grid/watershed/services/command-dispatcher/dispatcher"
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
		fmt.Fprintln(os.Stderr, dispatcher.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(dispatcher.Name, version)
	if err != nil {
		return err
	}
	cfg, err := dispatcher.ConfigFromEnv()
	if err != nil {
		return err
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, closeRedis, err := dispatcher.Register(ctx, svc, cfg)
	if err != nil {
		return err
	}
	err = svc.Run(ctx)
	return errors.Join(err, closeRedis())
}
