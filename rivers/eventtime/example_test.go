package eventtime_test

import (
	"fmt"
	"time"

	"github.com/watershed-grid/watershed/rivers/eventtime"
)

// A service reads two partitions. Partition 1's reader stalls with records
// pending: the watermark waits for it instead of declaring its meters
// silent. In a handler, partition, behind and record time come from
// rivers.DeliveryFrom(ctx).
func ExampleWatermark() {
	grid := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // event time
	broker := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	wm := eventtime.New(eventtime.Config{MaxClockSkew: 2 * time.Hour, IdleAfter: 10 * time.Second})

	wm.Observe(0, grid, 0, broker)
	wm.Observe(1, grid, 250, broker) // 250 records of partition 1 not read yet
	for i := 1; i <= 96; i++ {       // partition 0: a day of reads
		wm.Observe(0, grid.Add(time.Duration(i)*15*time.Minute), 0, broker.Add(time.Duration(i)*time.Second))
	}
	fmt.Println("watermark:", wm.Value().Format("15:04"), "caught up:", wm.CaughtUp())

	for h := 1; h <= 6; h++ { // partition 1 read to its end
		wm.Observe(1, grid.Add(time.Duration(h)*time.Hour), int64(6-h), broker.Add(100*time.Second))
	}
	fmt.Println("watermark:", wm.Value().Format("15:04"), "caught up:", wm.CaughtUp())
	fmt.Println("windows with 30m lateness closed through:", wm.ClosedThrough(30*time.Minute).Format("15:04"))
	// Output:
	// watermark: 10:00 caught up: false
	// watermark: 16:00 caught up: true
	// windows with 30m lateness closed through: 15:30
}
