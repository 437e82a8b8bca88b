// Command supervisor runs the service processes of a YAML manifest,
// restarts crashed ones with capped backoff, publishes
// system.service.restarted.v1 for each restart, and stops them in reverse
// order on SIGTERM. See package supervisor for the manifest.
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
	"github.com/watershed-grid/watershed/services/supervisor/supervisor"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	manifest := flag.String("manifest", "", "path of the YAML manifest (default $"+supervisor.EnvManifest+")")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	if err := run(*manifest); err != nil {
		fmt.Fprintln(os.Stderr, supervisor.Name+":", err)
		os.Exit(1)
	}
}

func run(manifest string) error {
	rc, err := rivers.ConfigFromEnv(supervisor.Name, version)
	if err != nil {
		return err
	}
	cfg, err := supervisor.ConfigFromEnv()
	if manifest != "" {
		cfg, err = supervisor.Config{Manifest: manifest}, nil
	}
	if err != nil {
		return err
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	sup, err := supervisor.Register(svc, cfg, supervisor.Options{})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSvc()
	supCtx, stopSup := context.WithCancel(ctx)
	defer stopSup()
	svcDone := make(chan error, 1)
	go func() {
		svcDone <- svc.Run(svcCtx)
		stopSup() // without its voice the supervisor stops its programs too
	}()
	supErr := sup.Run(supCtx) // returns once every program has stopped
	stopSvc()                 // then the service says it is stopping
	if err := <-svcDone; err != nil && !errors.Is(err, context.Canceled) {
		return errors.Join(supErr, err)
	}
	return supErr
}
