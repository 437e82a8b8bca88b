// Command mqtt-gateway bridges meters on an MQTT broker to the rapids: each
// payload becomes a meter.reading.v1 event; bad ones go to rapids.dlq. See
// package gateway for its configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/mqtt-gateway/gateway"
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
		fmt.Fprintln(os.Stderr, gateway.Name+":", err)
		os.Exit(1)
	}
}

func run() error {
	rc, err := rivers.ConfigFromEnv(gateway.Name, version)
	if err != nil {
		return err
	}
	cfg, err := gateway.ConfigFromEnv()
	if err != nil {
		return err
	}
	svc, err := rivers.NewService(rc)
	if err != nil {
		return err
	}
	if err := gateway.Register(svc, cfg); err != nil {
		return err
	}
	return svc.Run(context.Background())
}
