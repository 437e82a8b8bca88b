// Command gap-detector publishes meter.reading.missed.v1 for expected reads
// that did not come, and meter.reading.late.v1 when they come after all.
// See package gapdetector for its configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/gap-detector/gapdetector"
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
		fmt.Fprintln(os.Stderr, gapdetector.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(gapdetector.Name, version)
	if err != nil {
		return err
	}
	cfg, err := gapdetector.ConfigFromEnv()
	if err != nil {
		return err
	}
	if _, ok := os.LookupEnv(hot.EnvURL); ok && cfg.Checkpoints == nil {
		hc, err := hot.ConfigFromEnv()
		if err != nil {
			return err
		}
		client, err := hot.NewClient(hc)
		if err != nil {
			return err
		}
		defer client.Close()
		cfg.Checkpoints = gapdetector.StoreWithNotFound(hot.NewCheckpointStore(client, ""), hot.ErrNotFound)
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	d, err := gapdetector.Attach(svc, cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = svc.Run(ctx)
	// The final checkpoint: exact after a clean stop, so a restart needs no
	// warm-up.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, d.Stopped(sctx, err))
}
