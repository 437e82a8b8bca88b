package rivers

import (
	"testing"
	"time"
)

// AtEnd trusts an end check only when the one before it found the same end:
// a partition being written to between two checks may already have records
// the newest answer does not know of (issue #12's proof: a feeder window
// closed without a partition's readings).
func TestAtEndNeedsTwoChecksThatAgree(t *testing.T) {
	s, err := NewService(Config{Name: "atend", Version: "1.0.0", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	tp := TopicPartition{"rapids", 0}
	s.progress.mu.Lock()
	if s.progress.next == nil {
		s.progress.next = map[partitionOf]int64{}
	}
	s.progress.next[partitionOf{"rapids", 0}] = 10
	s.progress.mu.Unlock()
	now := time.Now()
	before := now.Add(-2 * time.Second)
	s.fetched.note("rapids", before.Add(-time.Second), 1)
	s.ends.Store(&endsSnapshot{at: now, ends: map[TopicPartition]int64{tp: 10}})
	if s.AtEnd("rapids", 0) {
		t.Error("at its end after one check")
	}
	s.ends.Store(&endsSnapshot{at: now, ends: map[TopicPartition]int64{tp: 10}, prev: map[TopicPartition]int64{tp: 8}, prevAt: before})
	if s.AtEnd("rapids", 0) {
		t.Error("at its end while the end moved between the checks")
	}
	s.ends.Store(&endsSnapshot{at: now, ends: map[TopicPartition]int64{tp: 10}, prev: map[TopicPartition]int64{tp: 10}, prevAt: before})
	if !s.AtEnd("rapids", 0) {
		t.Error("not at its end after two checks that agree and everything done")
	}
	// Checks from before the topic's first record say nothing of it.
	s.ends.Store(&endsSnapshot{at: now, ends: map[TopicPartition]int64{tp: 10}, prev: map[TopicPartition]int64{tp: 10}, prevAt: before.Add(-2 * time.Second)})
	if s.AtEnd("rapids", 0) {
		t.Error("at its end on a check made before the topic's first record was fetched")
	}
	s.ends.Store(&endsSnapshot{at: now, ends: map[TopicPartition]int64{tp: 10}, prev: map[TopicPartition]int64{tp: 10}, prevAt: before})
	s.progress.mu.Lock()
	s.progress.next[partitionOf{"rapids", 0}] = 9
	s.progress.mu.Unlock()
	if s.AtEnd("rapids", 0) {
		t.Error("at its end with a record not done")
	}
}
