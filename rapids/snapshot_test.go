package rapids_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
)

// TestReadRanges: the ranges taken at one moment are read whole, in offset
// order per partition, and records written afterwards are not read, on the
// embedded broker and on real Kafka.
func TestReadRanges(t *testing.T) {
	targets := map[string]func(t *testing.T) string{
		"embedded": func(t *testing.T) string { return startBroker(t, "").Addr() },
		"kafka":    func(t *testing.T) string { return requireEnv(t, "WATERSHED_TEST_KAFKA", "real Kafka") },
	}
	for name, addr := range targets {
		t.Run(name, func(t *testing.T) {
			var b [4]byte
			_, _ = rand.Read(b[:])
			topic := "ranges-" + hex.EncodeToString(b[:])
			cfg := rapids.Config{Brokers: []string{addr(t)}, Logger: quietLogger()}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := rapids.EnsureTopics(ctx, cfg, rapids.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1}); err != nil {
				t.Fatal(err)
			}
			p, err := rapids.NewProducer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			publish := func(from, n int) {
				recs := make([]rapids.Record, n)
				for i := range recs {
					recs[i] = rapids.Record{Topic: topic, Key: []byte(fmt.Sprint("k", (from+i)%5)), Value: []byte(fmt.Sprint(from + i))}
				}
				if err := p.Publish(ctx, recs...); err != nil {
					t.Fatal(err)
				}
			}
			publish(0, 40)
			ranges, err := rapids.Ranges(ctx, cfg, topic)
			if err != nil {
				t.Fatal(err)
			}
			total := int64(0)
			for _, r := range ranges {
				total += r.End - r.Start
			}
			if len(ranges) != 3 || total != 40 {
				t.Fatalf("ranges %+v: want 3 partitions holding 40 records", ranges)
			}
			publish(40, 20) // after the snapshot: not read
			last := map[int]int64{}
			n := 0
			err = rapids.ReadRanges(ctx, cfg, ranges, time.Second, func(r rapids.Record) error {
				if o, ok := last[r.Partition]; ok && r.Offset <= o {
					return fmt.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, o)
				}
				last[r.Partition] = r.Offset
				n++
				return nil
			})
			if err != nil || n != 40 {
				t.Fatalf("read %d records (%v), want the 40 of the snapshot", n, err)
			}
			stop := errors.New("stop")
			n = 0
			err = rapids.ReadRanges(ctx, cfg, ranges, time.Second, func(rapids.Record) error { n++; return stop })
			if !errors.Is(err, stop) || n != 1 {
				t.Fatalf("fn's error: read %d, %v", n, err)
			}
			if none, err := rapids.Ranges(ctx, cfg, topic+"-missing"); err != nil || len(none) != 0 {
				t.Fatalf("ranges of a missing topic: %+v, %v", none, err)
			}
		})
	}
}
