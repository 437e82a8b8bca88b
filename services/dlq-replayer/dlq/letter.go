package dlq

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// HeaderReplayCount counts how often a dead letter was replayed to its
// origin topic. A replayed event that fails again is dead-lettered with
// this header still on it, so the replay limit stops a loop.
const HeaderReplayCount = "watershed_replay_count"

// DefaultReplayLimit is how many times one event may be replayed.
const DefaultReplayLimit = 3

// ErrNoOrigin: a dead letter without an origin-topic header cannot be
// replayed.
var ErrNoOrigin = errors.New("dlq: dead letter has no origin topic")

// Letter is one dead-lettered event with its origin headers.
type Letter struct {
	Record rapids.Record `json:"-"`

	DLQTopic  string `json:"dlq_topic"`
	DLQOffset int64  `json:"dlq_offset"`
	DLQPart   int    `json:"dlq_partition"`

	OriginTopic     string `json:"origin_topic"`
	OriginPartition int    `json:"origin_partition"`
	OriginOffset    int64  `json:"origin_offset"`

	ID     string `json:"id"`
	Type   string `json:"type"`
	Source string `json:"source"`
	Key    string `json:"key,omitempty"`

	ErrorClass string    `json:"error_class"`
	Error      string    `json:"error"`
	River      string    `json:"river,omitempty"`
	Service    string    `json:"service,omitempty"`
	FailedAt   time.Time `json:"failed_at"`
	Replays    int       `json:"replays"`

	Data string `json:"data,omitempty"`
}

func header(r rapids.Record, key string) string {
	v, _ := contracts.HeaderValue(r.Headers, key)
	return string(v)
}

// Parse reads a dead letter's origin and event headers. It never fails:
// missing headers leave their fields empty (an undecodable event is exactly
// what a dead-letter topic holds).
func Parse(r rapids.Record) Letter {
	l := Letter{
		Record:      r,
		DLQTopic:    r.Topic,
		DLQOffset:   r.Offset,
		DLQPart:     r.Partition,
		OriginTopic: header(r, HeaderOriginTopic),
		ID:          header(r, contracts.HeaderID),
		Type:        header(r, contracts.HeaderType),
		Source:      header(r, contracts.HeaderSource),
		Key:         string(r.Key),
		ErrorClass:  header(r, HeaderErrorClass),
		Error:       header(r, HeaderError),
		River:       header(r, HeaderRiver),
		Service:     header(r, HeaderService),
		FailedAt:    r.Time,
		Data:        string(r.Value),
	}
	if l.OriginTopic == "" {
		l.OriginTopic = strings.TrimSuffix(r.Topic, rapids.DLQSuffix)
		if l.OriginTopic == r.Topic {
			l.OriginTopic = ""
		}
	}
	l.OriginPartition, _ = strconv.Atoi(header(r, HeaderOriginPartition))
	l.OriginOffset, _ = strconv.ParseInt(header(r, HeaderOriginOffset), 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, header(r, HeaderFailedAt)); err == nil {
		l.FailedAt = t
	}
	l.Replays, _ = strconv.Atoi(header(r, HeaderReplayCount))
	if l.ErrorClass == "" {
		l.ErrorClass = "unknown"
	}
	return l
}

// Filter selects dead letters. Zero fields select everything.
type Filter struct {
	Type  string    // exact ce_type
	Error string    // error class, exact; or a substring of the error message
	Since time.Time // failed at or after
	Until time.Time // failed before
	Limit int       // at most this many (0: no limit)
}

// Match reports whether l passes the filter (Limit aside).
func (f Filter) Match(l Letter) bool {
	switch {
	case f.Type != "" && l.Type != f.Type:
		return false
	case f.Error != "" && l.ErrorClass != f.Error && !strings.Contains(l.Error, f.Error):
		return false
	case !f.Since.IsZero() && l.FailedAt.Before(f.Since):
		return false
	case !f.Until.IsZero() && !l.FailedAt.Before(f.Until):
		return false
	}
	return true
}

// Select returns the letters that pass f, oldest first, at most f.Limit.
func Select(ls []Letter, f Filter) []Letter {
	var out []Letter
	for _, l := range ls {
		if f.Match(l) {
			out = append(out, l)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
	}
	return out
}

// Count is how many dead letters share an origin topic, type and error class.
type Count struct {
	Origin     string `json:"origin_topic"`
	Type       string `json:"type"`
	ErrorClass string `json:"error_class"`
	Letters    int    `json:"letters"`
}

// Summarize counts letters by origin topic, type and error class, sorted.
func Summarize(ls []Letter) []Count {
	m := map[Count]int{}
	for _, l := range ls {
		m[Count{Origin: l.OriginTopic, Type: l.Type, ErrorClass: l.ErrorClass}]++
	}
	out := make([]Count, 0, len(m))
	for k, n := range m {
		k.Letters = n
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(a.Origin, b.Origin), cmp.Compare(a.Type, b.Type), cmp.Compare(a.ErrorClass, b.ErrorClass))
	})
	return out
}

// Skip is a letter a replay leaves alone, and why.
type Skip struct {
	Letter Letter `json:"letter"`
	Reason string `json:"reason"`
}

// Plan is what a replay will do.
type Plan struct {
	Replay []Letter `json:"replay"`
	Skip   []Skip   `json:"skip"`
}

// PlanReplay selects the letters to replay: those that pass f, have an
// origin topic, have been replayed fewer than limit times (default
// DefaultReplayLimit), and are not a second copy of an event already in the
// plan (one event dead-lettered by two rivers is replayed once: the origin
// topic reaches both).
func PlanReplay(ls []Letter, f Filter, limit int) Plan {
	if limit <= 0 {
		limit = DefaultReplayLimit
	}
	var p Plan
	seen := map[string]bool{}
	for _, l := range ls {
		if !f.Match(l) {
			continue
		}
		key := l.OriginTopic + "\x00" + l.ID
		switch {
		case l.OriginTopic == "":
			p.Skip = append(p.Skip, Skip{l, "no origin topic"})
		case l.Replays >= limit:
			p.Skip = append(p.Skip, Skip{l, fmt.Sprintf("replayed %d times, limit %d", l.Replays, limit)})
		case l.ID != "" && seen[key]:
			p.Skip = append(p.Skip, Skip{l, "same event already in this replay"})
		default:
			if f.Limit > 0 && len(p.Replay) == f.Limit {
				return p
			}
			seen[key] = true
			p.Replay = append(p.Replay, l)
		}
	}
	return p
}

// ReplayRecord returns the record that replays l to its origin topic: the
// original key, value and event headers — the same ce_id, so consumers
// that de-duplicate drop it if they did process it — without the
// dead-letter headers, and with the replay count incremented.
func ReplayRecord(l Letter) (rapids.Record, error) {
	if l.OriginTopic == "" {
		return rapids.Record{}, fmt.Errorf("%w (offset %d of %s)", ErrNoOrigin, l.DLQOffset, l.DLQTopic)
	}
	hs := make([]contracts.Header, 0, len(l.Record.Headers)+1)
	for _, h := range l.Record.Headers {
		if isDeadLetterHeader(h.Key) || h.Key == HeaderReplayCount {
			continue
		}
		hs = append(hs, contracts.Header{Key: h.Key, Value: slices.Clone(h.Value)})
	}
	hs = append(hs, contracts.Header{Key: HeaderReplayCount, Value: []byte(strconv.Itoa(l.Replays + 1))})
	return rapids.Record{Topic: l.OriginTopic, Key: slices.Clone(l.Record.Key), Value: slices.Clone(l.Record.Value), Headers: hs}, nil
}
