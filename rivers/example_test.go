package rivers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// A river declares what its handler reads; heartbeats publish the
// declaration, so the ecosystem knows who depends on what.
func ExampleNewRiver() {
	svc, err := rivers.NewService(rivers.Config{Name: "outage-detector", Version: "1.0.0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingMissed).
		Require("meter_id", "transformer_id").
		RequireValue("feeder_id", "FDR-07").
		Interested("expected_at"),
		func(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
			tx, err := ev.String("transformer_id")
			if err != nil {
				return err
			}
			_ = tx // count silent meters per transformer...
			return nil
		})
	for _, s := range svc.Heartbeat(context.Background()).Subscribes {
		if s.Types[0] == events.TypeMeterReadingMissed {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(s)
		}
	}
	// Output:
	// {
	//   "types": [
	//     "meter.reading.missed.v1"
	//   ],
	//   "topic": "rivers",
	//   "group": "outage-detector",
	//   "require": [
	//     "meter_id",
	//     "transformer_id"
	//   ],
	//   "require_values": {
	//     "feeder_id": "FDR-07"
	//   },
	//   "interested": [
	//     "expected_at"
	//   ],
	//   "passive": false
	// }
}

// Handlers mark errors that no retry can fix as permanent: the event goes
// to the dead-letter topic at once.
func ExamplePermanent() {
	err := rivers.Permanent(fmt.Errorf("meter %s unknown", "MTR-1"))
	fmt.Println(rivers.IsPermanent(err), err)
	fmt.Println(rivers.IsPermanent(fmt.Errorf("db timeout")))
	// Output:
	// true meter MTR-1 unknown
	// false
}
