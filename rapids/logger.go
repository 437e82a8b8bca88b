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
	// onAssign, when set, is called with the number of partitions the
	// Reader subscribed to in a new consumer group generation.
	onAssign func(partitions int)
}

// subscribedFormat is the format kafka-go's Reader (v0.4.51, reader.go)
// logs when a consumer group generation assigns partitions to it. kafka-go
// has no other way to tell a caller that it joined the group, so the
// Consumer watches for it; TestConsumerAssigned guards the coupling.
const subscribedFormat = "subscribed to topics and partitions: %+v"

func (l kafkaLogger) Printf(format string, args ...any) {
	if l.onAssign != nil && format == subscribedFormat && len(args) == 1 {
		n := 0
		if v := reflect.ValueOf(args[0]); v.Kind() == reflect.Map {
			n = v.Len()
		}
		l.onAssign(n)
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, l.level) {
		return
	}
	l.log.Log(ctx, l.level, "kafka-go: "+fmt.Sprintf(format, args...))
}
