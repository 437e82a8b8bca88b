// Command hot-pond keeps the latest meter readings in Redis and serves
// them over HTTP. See package hotpond for its configuration.
package main

import (
	"context"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/hot-pond/hotpond"
)

func main() {
	rivers.Main(hotpond.Name, hotpond.ConfigFromEnv, func(app *rivers.App, cfg hotpond.Config) error {
		h, err := hotpond.New(cfg)
		if err != nil {
			return err
		}
		app.OnStop(func(context.Context, error) error { return h.Close() })
		var opts []rivers.Option
		if d := h.DedupStore(); d != nil { // HOT_DEDUP: duplicates remembered in Redis
			opts = append(opts, rivers.WithDedupStore(d))
		}
		svc, err := app.NewService(opts...)
		if err != nil {
			return err
		}
		return h.Register(svc)
	})
}
