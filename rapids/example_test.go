package rapids_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
)

// A service publishes a meter reading to the rapids; another consumes it
// at least once: the record is committed after the handler succeeds.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	// In production: cfg, err := rapids.ConfigFromEnv().
	broker, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer broker.Close()
	cfg := rapids.Config{Brokers: []string{broker.Addr()}, Logger: quiet}.WithDefaults()

	p, err := rapids.NewProducer(cfg)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	e, _ := contracts.New("/services/meter-simulator", "meter.reading.v1", map[string]any{"meter_id": "meter-0042"})
	e.PartitionKey = "meter-0042"
	rec, err := rapids.NewRecord(cfg.Topics.Rapids, e)
	if err != nil {
		panic(err)
	}
	if err := p.Publish(ctx, rec); err != nil { // returns once acknowledged
		panic(err)
	}

	c, err := rapids.NewConsumer(cfg, "usage-aggregator", []string{cfg.Topics.Rapids},
		rapids.WithOnPermanent(func(ctx context.Context, r rapids.Record, err error) error {
			// Publish r to rapids.DLQ(r.Topic) here.
			return nil
		}))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	runCtx, stop := context.WithCancel(ctx)
	err = c.Run(runCtx, func(ctx context.Context, r rapids.Record) error {
		ev, err := contracts.DecodeBinary(r.Message())
		if err != nil {
			return rapids.Permanent(err) // bad input: dead-letter, do not retry
		}
		fmt.Println(ev.Type, ev.PartitionKey)
		stop()
		return nil
	})
	fmt.Println("run:", err)
	// Output:
	// meter.reading.v1 meter-0042
	// run: <nil>
}
