package rapids

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
)

// kafkaLogger adapts slog to kafka-go's Logger. kafka-go logs its routine
// steps (dials, fetches, group joins) through Logger and its failures through
// ErrorLogger; they go to slog at debug and warn level.
type kafkaLogger struct {
	log   *slog.Logger
	level slog.Level
	// onAssign, when set, is called with the partitions the Reader
	// subscribed to in a new consumer group generation and the offset each
	// starts at (its committed offset; negative when the group has none
	// and the reader starts at the first or last offset).
	onAssign func(assigned map[TopicPartition]int64)
}

// subscribedFormat is the format kafka-go's Reader (v0.4.51, reader.go)
// logs when a consumer group generation assigns partitions to it. kafka-go
// has no other way to tell a caller that it joined the group, so the
// Consumer watches for it; TestConsumerAssigned guards the coupling.
const subscribedFormat = "subscribed to topics and partitions: %+v"

func (l kafkaLogger) Printf(format string, args ...any) {
	if l.onAssign != nil && format == subscribedFormat && len(args) == 1 {
		l.onAssign(assignedPartitions(args[0]))
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, l.level) {
		return
	}
	l.log.Log(ctx, l.level, "kafka-go: "+fmt.Sprintf(format, args...))
}

// assignedPartitions reads the map kafka-go logs with subscribedFormat:
// map[topicPartition]int64, its key an unexported struct{topic string;
// partition int32}, the value the offset the partition starts at. Fields
// are found by name; a key without them is skipped (TestConsumerAssignment
// guards the coupling).
func assignedPartitions(m any) map[TopicPartition]int64 {
	out := map[TopicPartition]int64{}
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Map {
		return out
	}
	for it := v.MapRange(); it.Next(); {
		k := it.Key()
		if k.Kind() != reflect.Struct {
			continue
		}
		t, p := k.FieldByName("topic"), k.FieldByName("partition")
		if t.Kind() != reflect.String || !p.CanInt() {
			continue
		}
		off := int64(-1)
		if it.Value().CanInt() {
			off = it.Value().Int()
		}
		out[TopicPartition{Topic: t.String(), Partition: int(p.Int())}] = off
	}
	return out
}
