// Command hot-pond keeps the latest meter readings in Redis and serves
// them over HTTP. See package hotpond for its configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/hot-pond/hotpond"
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
		fmt.Fprintln(os.Stderr, hotpond.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(hotpond.Name, version)
	if err != nil {
		return err
	}
	cfg, err := hotpond.ConfigFromEnv()
	if err != nil {
		return err
	}
	h, err := hotpond.New(cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	var opts []rivers.Option
	if d := h.DedupStore(); d != nil {
		opts = append(opts, rivers.WithDedupStore(d))
	}
	svc, err := rivers.NewService(rc, opts...)
	if err != nil {
		return err
	}
	if err := h.Register(svc); err != nil {
		return err
	}
	return svc.Run(context.Background())
}
