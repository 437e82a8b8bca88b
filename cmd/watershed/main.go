// Command watershed is the operator's and analyst's tool for a Watershed
// ecosystem: run an embedded broker, tap a topic, and (as the ecosystem
// grows) run everything locally, list services, read the ponds and replay
// dead letters. Run `watershed --help` for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "watershed:", err)
		os.Exit(1)
	}
}
