package rivers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

func TestDeadLetterRoundTrip(t *testing.T) {
	s, err := NewService(Config{Name: "dl-test", Version: "1", Instance: "i-1", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := &Record{Topic: "rivers", Partition: 2, Offset: 41, Key: []byte("M1"), Value: []byte(`{"a":1}`), Time: at,
		Headers: []contracts.Header{{Key: "ce_id", Value: []byte("e1")}, {Key: "dlq_error", Value: []byte("old")}}}
	dl := s.deadLetterRecord(rec, "readings", ClassRetriesExhausted, errors.New(strings.Repeat("x", 2000)), 5)
	if dl.Topic != "rivers.dlq" || string(dl.Key) != "M1" || string(dl.Value) != `{"a":1}` {
		t.Errorf("dead letter %+v", dl)
	}
	d, err := ParseDeadLetter(dl)
	if err != nil {
		t.Fatal(err)
	}
	if d.OriginTopic != "rivers" || d.OriginPartition != 2 || d.OriginOffset != 41 || !d.OriginTime.Equal(at) ||
		d.ConsumerGroup != "dl-test" || d.Service != "dl-test" || d.Instance != "i-1" || d.River != "readings" ||
		d.Class != ClassRetriesExhausted || d.Attempts != 5 || d.Time.IsZero() || len(d.Error) > maxDLQError+4 {
		t.Errorf("parsed %+v", d)
	}
	if len(d.Message.Headers) != 1 || d.Message.Headers[0].Key != "ce_id" {
		t.Errorf("original headers %v: want ce_id only (old dlq_ headers replaced)", d.Message.Headers)
	}
	if _, err := ParseDeadLetter(Record{Topic: "rivers.dlq"}); err == nil {
		t.Error("a record without dlq headers parsed")
	}
	bad := dl
	bad.Headers = append([]contracts.Header{}, dl.Headers...)
	bad.Headers = append(bad.Headers, contracts.Header{Key: HeaderDLQAttempts, Value: []byte("many")})
	if _, err := ParseDeadLetter(bad); err == nil {
		t.Error("a non-numeric dlq_attempts parsed")
	}
}
