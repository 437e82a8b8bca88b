package hot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/internal/meterreading"
)

// ReadingType is the event type the hot pond stores: meter.reading.v1.
const ReadingType = meterreading.Type

// DefaultKeyPrefix starts every key the hot pond writes, so one Redis ACL
// pattern (~ws:*) covers them all.
const DefaultKeyPrefix = "ws:"

// DefaultWindowRetention is how long a reading without a use-by date stays
// in its meter's recent window, counted from its read_at.
const DefaultWindowRetention = 48 * time.Hour

// MaxWindowDays bounds the days one [Pond.Window] call may span.
const MaxWindowDays = 62

var (
	// ErrNotFound: Redis holds no reading for that meter.
	ErrNotFound = errors.New("hot pond: not found")
	// ErrNotReading: the event is not a meter.reading.v1. Permanent.
	ErrNotReading = errors.New("hot pond: not a " + ReadingType + " event")
	// ErrInvalidReading: the event's data is not a storable reading. Permanent.
	ErrInvalidReading = meterreading.ErrInvalid
	// ErrRange: a Window call with to before from or spanning too many days.
	ErrRange = errors.New("hot pond: invalid time range")
)

// Options tune a [Pond]. A nil *Options means all defaults.
type Options struct {
	// KeyPrefix starts every key. Default DefaultKeyPrefix ("ws:").
	KeyPrefix string
	// WindowRetention keeps readings that carry no use-by date (ExpiryTime)
	// in the recent window for this long after their read_at, and bounds
	// how long any reading stays there after it is written (a use-by
	// further away is cut to it).
	// Default DefaultWindowRetention (48h).
	WindowRetention time.Duration
	// Now is the clock that decides whether an event has expired. Default
	// time.Now. Window buckets expire by Redis' clock: keep them in step.
	Now func() time.Time
}

// Pond is the Redis hot pond: the latest reading of every meter, each
// meter's recent window, and the latest readings per transformer and per
// feeder. Keys (prefix "ws:" by default):
//
//	ws:meter:<meter>:latest                  string: the latest reading (JSON)
//	ws:meter:<meter>:window:<YYYY-MM-DD>     sorted set: that UTC day's readings, score = read_at in Unix ms
//	ws:transformer:<transformer>:meters      hash: meter -> latest reading (JSON)
//	ws:feeder:<feeder>:meters                hash: meter -> latest reading (JSON)
//
// Every write is idempotent and order-independent: the latest reading is
// the one with the greatest (read_at, event id), compared inside Redis, so a
// late or replayed event never replaces a newer one, and the window's
// members are the readings themselves. A Pond is safe for concurrent use.
type Pond struct {
	client redis.UniversalClient
	owned  bool
	keys   keys
	opts   Options
}

// New returns a Pond on client. Closing the Pond leaves client open.
func New(client redis.UniversalClient, opts *Options) *Pond {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.WindowRetention <= 0 {
		o.WindowRetention = DefaultWindowRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Pond{client: client, keys: keys{o.KeyPrefix}, opts: o}
}

// Open connects to the Redis of cfg, checks that it answers, and returns a
// Pond that owns the connection.
func Open(ctx context.Context, cfg Config, opts *Options) (*Pond, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("hot pond: Redis at %s did not answer PING (check %s, %s/%s): %w",
			c.Options().Addr, EnvURL, EnvUsername, EnvPassword, err)
	}
	p := New(c, opts)
	p.owned = true
	return p, nil
}

// Client returns the Redis client, for the dedup and checkpoint stores.
func (p *Pond) Client() redis.UniversalClient { return p.client }

// Close closes the Redis connection if [Open] made it.
func (p *Pond) Close() error {
	if p.owned {
		return p.client.Close()
	}
	return nil
}

// Reading is one meter reading as the hot pond returns it: the data of a
// meter.reading.v1 event and the id of the event that carried it.
type Reading struct {
	// EventID is the ce_id that carried the reading. Window entries leave
	// it empty: the window keeps each distinct reading once, whichever
	// events repeated it.
	EventID string `json:"event_id,omitempty"`
	events.MeterReading
}

// WriteResult counts what one [Pond.Write] did.
type WriteResult struct {
	Updated  int        // readings that became their meter's latest
	Older    int        // readings older than the stored latest: window only
	Expired  int        // events past their use-by date: not written
	Rejected []Rejected // events that are no storable reading: not written
}

// Rejected is an event [Pond.Write] refused, and why (ErrNotReading or
// ErrInvalidReading). Dead-letter it; retrying cannot help.
type Rejected struct {
	EventID string
	Err     error
}

// Write stores a batch of meter.reading.v1 events in one round trip (one
// pipeline, one script call per reading). Events of other types and
// invalid readings are returned in Rejected; expired events are counted and
// skipped. An error is a Redis failure: nothing is known about which
// readings landed, and retrying the whole batch is always safe because every
// write is idempotent.
func (p *Pond) Write(ctx context.Context, events ...contracts.Event) (WriteResult, error) {
	var res WriteResult
	rs := make([]ReadingEvent, 0, len(events))
	for _, e := range events {
		if e.Type != ReadingType {
			res.Rejected = append(res.Rejected, Rejected{EventID: e.ID, Err: fmt.Errorf("%w: type %q", ErrNotReading, e.Type)})
			continue
		}
		r, _, err := meterreading.Decode(e.Data)
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{EventID: e.ID, Err: err})
			continue
		}
		rs = append(rs, ReadingEvent{EventID: e.ID, ExpiryTime: e.ExpiryTime, Reading: r})
	}
	w, err := p.WriteReadings(ctx, rs)
	w.Rejected = res.Rejected
	return w, err
}

// ReadingEvent is a meter.reading.v1 event already decoded and checked
// against its schema (by the rivers SDK, or catalog.DecodeMeterReading).
type ReadingEvent struct {
	EventID    string
	ExpiryTime time.Time // the event's use-by date; zero: none
	Reading    events.MeterReading
}

// WriteReadings is [Pond.Write] for readings already decoded: a consumer
// that validated and decoded them once (a rivers batch handler) does not
// pay for it again. Expired readings are counted and skipped.
func (p *Pond) WriteReadings(ctx context.Context, rs []ReadingEvent) (WriteResult, error) {
	var res WriteResult
	now := p.opts.Now()
	calls := make([]scriptCall, 0, len(rs))
	for i := range rs {
		if e := &rs[i]; !e.ExpiryTime.IsZero() && now.After(e.ExpiryTime) {
			res.Expired++
			continue
		}
		calls = append(calls, p.call(&rs[i], now))
	}
	if len(calls) == 0 {
		return res, nil
	}
	updated, err := p.run(ctx, calls)
	if err != nil {
		return res, err
	}
	for _, u := range updated {
		if u {
			res.Updated++
		} else {
			res.Older++
		}
	}
	return res, nil
}

type scriptCall struct {
	keys []string
	args []any
}

func (p *Pond) call(e *ReadingEvent, now time.Time) scriptCall {
	r := Reading{MeterReading: e.Reading}
	r.ReadAt = r.ReadAt.UTC()
	readAt := formatReadAt(r.ReadAt)
	// One marshal: the window member has no event id, the latest value is
	// the member with "event_id" spliced in after read_at.
	member := mustJSON(stored{ReadAt: readAt, Reading: r})
	head := len(`{"read_at":"`) + len(readAt) + len(`",`)
	latest := member[:head] + `"event_id":` + mustJSON(e.EventID) + "," + member[head:]
	expireAt := e.ExpiryTime
	if expireAt.IsZero() {
		expireAt = r.ReadAt.Add(p.opts.WindowRetention)
	}
	if limit := now.Add(p.opts.WindowRetention); expireAt.After(limit) {
		expireAt = limit // never kept longer than the retention from now
	}
	var expireMS int64 // 0: outside the window, not stored there
	if expireAt.After(now) {
		expireMS = expireAt.UnixMilli()
	}
	return scriptCall{
		keys: []string{
			p.keys.latest(r.MeterID),
			p.keys.transformer(r.TransformerID),
			p.keys.feeder(r.FeederID),
			p.keys.window(r.MeterID, r.ReadAt),
		},
		args: []any{
			r.MeterID, readAt, e.EventID, latest,
			r.ReadAt.UnixMilli(), member, expireMS,
			viewNeedle("transformer_id", r.TransformerID), viewNeedle("feeder_id", r.FeederID),
		},
	}
}

// viewNeedle is how a stored reading names its transformer or feeder: the
// member and the comma after it, as encoding/json writes them. Unescaped
// quotes occur in the JSON only around names and string values, so the
// needle matches that member and nothing else. "" for no id.
func viewNeedle(field, id string) string {
	if id == "" {
		return ""
	}
	return `"` + field + `":` + mustJSON(id) + ","
}

// scriptBatch is how many readings one script call stores: one Lua call
// per reading cost more than the writes (an in-process Redis builds a Lua
// state per call), and a bounded batch keeps each call short.
const scriptBatch = 256

// run stores the calls, scriptBatch readings per script call, all calls in
// one pipeline, and reports per reading whether it became the latest. A
// Redis that lost its script cache (restart, SCRIPT FLUSH) gets the script
// again and the batch once more: safe, since every write is idempotent.
func (p *Pond) run(ctx context.Context, calls []scriptCall) ([]bool, error) {
	for attempt := 0; ; attempt++ {
		cmds, err := p.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for lo := 0; lo < len(calls); lo += scriptBatch {
				part := calls[lo:min(lo+scriptBatch, len(calls))]
				keys := make([]string, 0, 4*len(part))
				args := make([]any, 0, 9*len(part))
				for _, c := range part {
					keys = append(keys, c.keys...)
					args = append(args, c.args...)
				}
				writeScript.EvalSha(ctx, pipe, keys, args...)
			}
			return nil
		})
		if err != nil && attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := writeScript.Load(ctx, p.client).Err(); err != nil {
				return nil, fmt.Errorf("hot pond: load write script: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("hot pond: write %d readings: %w", len(calls), err)
		}
		out := make([]bool, 0, len(calls))
		for _, c := range cmds {
			ns, err := c.(*redis.Cmd).Int64Slice()
			if err != nil {
				return nil, fmt.Errorf("hot pond: write script: %w", err)
			}
			for _, n := range ns {
				out = append(out, n == 1)
			}
		}
		if len(out) != len(calls) {
			return nil, fmt.Errorf("hot pond: write script answered for %d of %d readings", len(out), len(calls))
		}
		return out, nil
	}
}

// writeScript stores readings atomically, each as follows; reading i uses
// KEYS[4i+1..4i+4] and ARGV[9i+1..9i+9].
//
//	KEYS: latest, transformer view, feeder view, window bucket
//	ARGV: meter, read_at (fixed-width UTC), event id, latest JSON,
//	      window score, window member, window expiry (Unix ms, 0: skip window),
//	      transformer needle, feeder needle ("" when the reading names none)
//
// The latest reading is the greatest (read_at, event id): the stored JSON
// starts {"read_at":"<fixed-width UTC>","event_id":"<id>", so a pattern
// reads both without decoding JSON, and the strings compare in time order.
// A view is the set of meters whose latest reading names its transformer or
// feeder; the script adds the meter only when the latest it replaces did not
// name it already (a plain search for the needle), so a steady meter costs
// its views nothing. The window bucket expires at the greatest use-by of its
// members (PEXPIREAT NX, then GT).
// Returns, per reading, 1 when it became the latest, else 0.
var writeScript = redis.NewScript(`
local out = {}
for i = 0, #KEYS / 4 - 1 do
  local k, a = i * 4, i * 9
  local newer = true
  local old = redis.call('GET', KEYS[k+1])
  if old then
    local ra, id = string.match(old, '^{"read_at":"([^"]*)","event_id":"([^"]*)"')
    if ra and (ra > ARGV[a+2] or (ra == ARGV[a+2] and id >= ARGV[a+3])) then
      newer = false
    end
  end
  if newer then
    redis.call('SET', KEYS[k+1], ARGV[a+4])
    local t, f = ARGV[a+8], ARGV[a+9]
    if t ~= '' and not (old and string.find(old, t, 1, true)) then redis.call('HSET', KEYS[k+2], ARGV[a+1], '1') end
    if f ~= '' and not (old and string.find(old, f, 1, true)) then redis.call('HSET', KEYS[k+3], ARGV[a+1], '1') end
  end
  if ARGV[a+7] ~= '0' then
    redis.call('ZADD', KEYS[k+4], ARGV[a+5], ARGV[a+6])
    if redis.call('PEXPIREAT', KEYS[k+4], ARGV[a+7], 'NX') == 0 then
      redis.call('PEXPIREAT', KEYS[k+4], ARGV[a+7], 'GT')
    end
  end
  if newer then out[#out+1] = 1 else out[#out+1] = 0 end
end
return out
`)

// Latest returns the latest reading of a meter, or ErrNotFound.
func (p *Pond) Latest(ctx context.Context, meterID string) (Reading, error) {
	b, err := p.client.Get(ctx, p.keys.latest(meterID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Reading{}, fmt.Errorf("%w: meter %q", ErrNotFound, meterID)
	}
	if err != nil {
		return Reading{}, fmt.Errorf("hot pond: latest of meter %q: %w", meterID, err)
	}
	return decodeStored(b)
}

// Window returns a meter's readings with from <= read_at < to, oldest
// first, in one round trip. The range may span at most MaxWindowDays UTC
// days; readings past their use-by date may already be gone.
func (p *Pond) Window(ctx context.Context, meterID string, from, to time.Time) ([]Reading, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("%w: to %v is not after from %v", ErrRange, to, from)
	}
	first := from.UTC().Truncate(24 * time.Hour)
	last := to.Add(-time.Millisecond).UTC().Truncate(24 * time.Hour)
	days := int(last.Sub(first)/(24*time.Hour)) + 1
	if days > MaxWindowDays {
		return nil, fmt.Errorf("%w: %d days, at most %d", ErrRange, days, MaxWindowDays)
	}
	rng := &redis.ZRangeBy{Min: strconv.FormatInt(from.UnixMilli(), 10), Max: "(" + strconv.FormatInt(to.UnixMilli(), 10)}
	cmds, err := p.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for d := first; !d.After(last); d = d.Add(24 * time.Hour) {
			pipe.ZRangeByScore(ctx, p.keys.window(meterID, d), rng)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hot pond: window of meter %q: %w", meterID, err)
	}
	var out []Reading
	for _, c := range cmds {
		for _, m := range c.(*redis.StringSliceCmd).Val() {
			r, err := decodeStored([]byte(m))
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b Reading) int { return a.ReadAt.Compare(b.ReadAt) })
	return out, nil
}

// Transformer returns the latest reading of every meter under a
// transformer, ordered by meter id.
func (p *Pond) Transformer(ctx context.Context, transformerID string) ([]Reading, error) {
	return p.view(ctx, p.keys.transformer(transformerID), viewNeedle("transformer_id", transformerID),
		func(r Reading) bool { return r.TransformerID == transformerID })
}

// Feeder returns the latest reading of every meter under a feeder, ordered
// by meter id.
func (p *Pond) Feeder(ctx context.Context, feederID string) ([]Reading, error) {
	return p.view(ctx, p.keys.feeder(feederID), viewNeedle("feeder_id", feederID),
		func(r Reading) bool { return r.FeederID == feederID })
}

// view reads a view in two round trips: its meters, then the latest reading
// of each. A meter that was rewired (its latest reading names another
// transformer or feeder) still has an entry in its old view; belongs
// filters it out and the entry is removed, unless a write made the meter
// belong again meanwhile (the removal checks the latest reading itself).
func (p *Pond) view(ctx context.Context, key, needle string, belongs func(Reading) bool) ([]Reading, error) {
	meters, err := p.client.HKeys(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("hot pond: read %s: %w", key, err)
	}
	if len(meters) == 0 {
		return nil, nil
	}
	slices.Sort(meters)
	latest := make([]string, len(meters))
	for i, m := range meters {
		latest[i] = p.keys.latest(m)
	}
	vals, err := p.client.MGet(ctx, latest...).Result()
	if err != nil {
		return nil, fmt.Errorf("hot pond: read the latest readings of %s: %w", key, err)
	}
	out := make([]Reading, 0, len(meters))
	for i, v := range vals {
		s, ok := v.(string)
		var r Reading
		if ok {
			if r, err = decodeStored([]byte(s)); err != nil {
				return nil, err
			}
		}
		if !ok || !belongs(r) {
			// Best effort: a failed clean-up only repeats on the next read.
			_ = deleteIfStale.Run(ctx, p.client, []string{key, latest[i]}, meters[i], needle).Err()
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// deleteIfStale removes a meter from a view unless its latest reading (still
// or again) names the view's transformer or feeder.
//
//	KEYS: view, the meter's latest; ARGV: meter, needle
var deleteIfStale = redis.NewScript(`
local l = redis.call('GET', KEYS[2])
if l and string.find(l, ARGV[2], 1, true) then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
`)

// stored is a reading as Redis holds it: its JSON starts with read_at,
// fixed-width (the outer field shadows the embedded one), then event_id,
// which the write script relies on.
type stored struct {
	ReadAt string `json:"read_at"`
	Reading
}

// readAtLayout is fixed-width, so string order is time order.
const readAtLayout = "2006-01-02T15:04:05.000000Z"

func formatReadAt(t time.Time) string { return t.UTC().Format(readAtLayout) }

func decodeStored(b []byte) (Reading, error) {
	var r Reading
	if err := json.Unmarshal(b, &r); err != nil {
		return Reading{}, fmt.Errorf("hot pond: stored reading is not a reading: %w", err)
	}
	return r, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // a Reading always marshals: only finite floats pass Check
		panic(err)
	}
	return string(b)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

type keys struct{ prefix string }

func (k keys) latest(meter string) string { return k.prefix + "meter:" + meter + ":latest" }
func (k keys) window(meter string, day time.Time) string {
	return k.prefix + "meter:" + meter + ":window:" + day.UTC().Format(time.DateOnly)
}
func (k keys) transformer(id string) string { return k.prefix + "transformer:" + id + ":meters" }
func (k keys) feeder(id string) string      { return k.prefix + "feeder:" + id + ":meters" }
func (k keys) seen(key string) string       { return k.prefix + "seen:" + boundedKey(key) }
func (k keys) checkpoint(name string) string {
	return k.prefix + "checkpoint:" + name
}

// maxPlainKeyBytes is the longest key (an event id) stored as it is; a
// longer one is stored as its SHA-256, so a Redis key stays bounded
// whatever a producer writes.
const maxPlainKeyBytes = 128

// boundedKey returns key, or "sha256:" and its hex digest when it is longer
// than maxPlainKeyBytes.
func boundedKey(key string) string {
	if len(key) <= maxPlainKeyBytes {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
