package deadletter

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
	"github.com/watershed-grid/watershed/rivers"
)

// HeaderReplayCount counts how often a dead letter was replayed to its
// origin topic. A replayed event that fails again is dead-lettered with
// this header still on it, so the replay limit stops a loop.
const HeaderReplayCount = "watershed_replay_count"

// DefaultReplayLimit is how many times one event may be replayed.
const DefaultReplayLimit = 3

// HeaderReplayOrigin travels on a replayed record without a ce_id: the
// origin ("topic/partition/offset") of its first dead letter, so that its
// later letters count against the same replay limit.
const HeaderReplayOrigin = "watershed_replay_origin"

// HeaderReplayMarker marks a replay marker: a record a replay writes to the
// dead-letter topic next to the letter it replayed, with the event's
// identity (see [Letter.Identity]) as value of this header and the replay
// count in watershed_replay_count. Markers are the DLQ's own ledger of
// replays: the original letter stays (a topic is append-only), so without
// them a run could not know that an earlier run replayed it. They are not
// letters: ls, show and the counts leave them out.
const HeaderReplayMarker = "dlq_replay_of"

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

	// Omitted is set when the letter left the record's value (and maybe
	// its key and headers) out to fit the record limit: what was left out.
	Omitted string `json:"omitted,omitempty"`
	// Identity names the event across letters and runs: its origin topic
	// and ce_id, or, for a record without a ce_id, the origin of its first
	// letter (topic/partition/offset).
	Identity string `json:"identity"`
	// Marker: the record is a replay marker, not a letter.
	Marker bool `json:"-"`
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
	l.Omitted = header(r, rivers.HeaderDLQOmitted)
	if id, ok := contracts.HeaderValue(r.Headers, HeaderReplayMarker); ok {
		l.Marker, l.Identity = true, string(id)
		return l
	}
	switch {
	case l.ID != "":
		l.Identity = "id:" + l.OriginTopic + "/" + l.ID
	case header(r, HeaderReplayOrigin) != "":
		l.Identity = "origin:" + header(r, HeaderReplayOrigin)
	default:
		l.Identity = "origin:" + l.origin()
	}
	return l
}

// origin is "topic/partition/offset" of the letter's record.
func (l Letter) origin() string {
	return l.OriginTopic + "/" + strconv.Itoa(l.OriginPartition) + "/" + strconv.FormatInt(l.OriginOffset, 10)
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
		if !l.Marker && f.Match(l) {
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
		if !l.Marker {
			m[Count{Origin: l.OriginTopic, Type: l.Type, ErrorClass: l.ErrorClass}]++
		}
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
// origin topic and their value, and whose event (its [Letter.Identity])
// has been replayed fewer than limit times (default DefaultReplayLimit).
// An event's replay count is the highest count among all its letters and
// replay markers, from every earlier run: the original letter (count 0)
// stays on the topic, so counting it alone would replay the event on every
// run. One letter per event is planned, its Replays set to that count (one
// event dead-lettered by two rivers, or failing after each replay, is
// replayed once: the origin topic reaches them all).
func PlanReplay(ls []Letter, f Filter, limit int) Plan {
	if limit <= 0 {
		limit = DefaultReplayLimit
	}
	count := map[string]int{}
	for _, l := range ls {
		count[l.Identity] = max(count[l.Identity], l.Replays)
	}
	var p Plan
	seen := map[string]bool{}
	for _, l := range ls {
		if l.Marker || !f.Match(l) {
			continue
		}
		n := count[l.Identity]
		switch {
		case l.OriginTopic == "":
			p.Skip = append(p.Skip, Skip{l, "no origin topic"})
		case l.Omitted != "":
			p.Skip = append(p.Skip, Skip{l, "the letter left the record's " + l.Omitted + " out (too large): read it at its origin " + l.origin()})
		case n >= limit:
			p.Skip = append(p.Skip, Skip{l, fmt.Sprintf("replayed %d times, limit %d", n, limit)})
		case seen[l.Identity]:
			p.Skip = append(p.Skip, Skip{l, "same event already in this replay"})
		default:
			if f.Limit > 0 && len(p.Replay) == f.Limit {
				return p
			}
			seen[l.Identity] = true
			l.Replays = n
			p.Replay = append(p.Replay, l)
		}
	}
	return p
}

// MarkerRecord returns the replay marker of l's replay (see
// HeaderReplayMarker), for l's dead-letter topic.
func MarkerRecord(l Letter, at time.Time) rapids.Record {
	return rapids.Record{Topic: l.DLQTopic, Key: slices.Clone(l.Record.Key), Headers: []contracts.Header{
		{Key: HeaderReplayMarker, Value: []byte(l.Identity)},
		{Key: HeaderReplayCount, Value: []byte(strconv.Itoa(l.Replays + 1))},
		{Key: HeaderOriginTopic, Value: []byte(l.OriginTopic)},
		{Key: HeaderFailedAt, Value: []byte(at.UTC().Format(time.RFC3339Nano))},
	}}
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
	if l.ID == "" {
		if _, ok := contracts.HeaderValue(hs, HeaderReplayOrigin); !ok {
			hs = append(hs, contracts.Header{Key: HeaderReplayOrigin, Value: []byte(l.origin())})
		}
	}
	hs = append(hs, contracts.Header{Key: HeaderReplayCount, Value: []byte(strconv.Itoa(l.Replays + 1))})
	return rapids.Record{Topic: l.OriginTopic, Key: slices.Clone(l.Record.Key), Value: slices.Clone(l.Record.Value), Headers: hs}, nil
}
