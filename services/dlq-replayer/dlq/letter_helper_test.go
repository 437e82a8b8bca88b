package dlq

import (
	"strconv"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// deadLetter is a dead letter as the rivers SDK writes it (a copy of the
// helper in rivers/deadletter's tests).
func deadLetter(t *testing.T, offset int64, typ, class, msg string, failed time.Time, replays int) rapids.Record {
	t.Helper()
	ev, err := contracts.New("/services/test", typ, map[string]any{"n": offset})
	if err != nil {
		t.Fatal(err)
	}
	ev.PartitionKey = "m-" + strconv.FormatInt(offset, 10)
	m, err := contracts.EncodeBinary(ev)
	if err != nil {
		t.Fatal(err)
	}
	hs := append(m.Headers,
		contracts.Header{Key: HeaderOriginTopic, Value: []byte("rivers")},
		contracts.Header{Key: HeaderOriginPartition, Value: []byte("2")},
		contracts.Header{Key: HeaderOriginOffset, Value: []byte(strconv.FormatInt(offset*10, 10))},
		contracts.Header{Key: HeaderErrorClass, Value: []byte(class)},
		contracts.Header{Key: HeaderError, Value: []byte(msg)},
		contracts.Header{Key: HeaderService, Value: []byte("usage-aggregator")},
		contracts.Header{Key: HeaderFailedAt, Value: []byte(failed.UTC().Format(time.RFC3339Nano))},
	)
	if replays > 0 {
		hs = append(hs, contracts.Header{Key: HeaderReplayCount, Value: []byte(strconv.Itoa(replays))})
	}
	return rapids.Record{Topic: "rivers.dlq", Offset: offset, Key: m.Key, Value: m.Value, Headers: hs, Time: failed}
}
