package archive_test

import (
	"context"
	"fmt"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/ponds/archive"
)

func Example() {
	ctx := context.Background()
	bucket, err := archive.OpenBucket(ctx, "mem://") // file:///var/lib/pond, s3://bucket?region=..., gs://, azblob://
	if err != nil {
		panic(err)
	}
	defer bucket.Close()
	a, err := archive.NewArchiver(bucket, &archive.Options{MaxRows: 2})
	if err != nil {
		panic(err)
	}
	for offset := range int64(3) {
		e, _ := contracts.New("/services/meter-simulator", "meter.reading.v1", map[string]any{
			"meter_id": "MTR-1", "transformer_id": "TX-1", "feeder_id": "FDR-1",
			"read_at": "2025-03-01T10:15:00Z", "interval_s": 900,
			"energy_kwh_total": 100 + offset, "demand_kw": 1.2, "voltage_v": 231,
		})
		e.Time = time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC)
		// A consumer passes each record's topic, partition and offset.
		if err := a.Add(ctx, archive.Position{Topic: "rapids", Partition: 0, Offset: offset}, e); err != nil {
			panic(err) // an *InvalidEventError would go to the dead-letter topic
		}
	}
	if err := a.Close(ctx); err != nil { // flushes
		panic(err)
	}
	fmt.Println(a.Watermarks()) // commit these offsets
	objs, _ := archive.List(ctx, bucket, archive.Filter{Type: "meter.reading.v1"})
	for _, o := range objs {
		fmt.Println(o.Key)
	}
	// Output:
	// [{rapids 0 3}]
	// rapids/ce_type=meter.reading.v1/date=2025-03-01/rapids+0+0000000000000000000.parquet
	// rapids/ce_type=meter.reading.v1/date=2025-03-01/rapids+0+0000000000000000002.parquet
}
