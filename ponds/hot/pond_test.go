package hot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/ponds/internal/testenv"
)

// testRedis connects to the real Redis of WATERSHED_TEST_REDIS and returns
// a client and a key prefix of this test's own; the keys are deleted after.
func testRedis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	url := testenv.Require(tb, "WATERSHED_TEST_REDIS", "real Redis")
	c, err := NewClient(Config{URL: url})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("Redis at %s: %v", url, err)
	}
	prefix := "ws:test:" + randomHex(6) + ":"
	tb.Cleanup(func() {
		deletePrefix(tb, c, prefix)
		_ = c.Close()
	})
	return c, prefix
}

func deletePrefix(tb testing.TB, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var ks []string
	for it.Next(ctx) {
		ks = append(ks, it.Val())
	}
	if err := it.Err(); err != nil {
		tb.Errorf("scan %s*: %v", prefix, err)
	}
	if len(ks) > 0 {
		c.Del(ctx, ks...)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// t0 is today's UTC midnight: window buckets expire by Redis' own clock,
// so test readings must be recent.
var t0 = time.Now().UTC().Truncate(24 * time.Hour)

// reading returns a meter.reading.v1 event.
func reading(tb testing.TB, meter, transformer, feeder string, readAt time.Time, kwh float64) contracts.Event {
	tb.Helper()
	data := map[string]any{
		"meter_id": meter, "transformer_id": transformer, "feeder_id": feeder,
		"read_at": readAt.Format(time.RFC3339Nano), "interval_s": 900,
		"energy_kwh_total": kwh, "demand_kw": 0.5, "voltage_v": 230.1, "flags": []string{},
	}
	e, err := contracts.New("/services/meter-simulator", ReadingType, data)
	if err != nil {
		tb.Fatal(err)
	}
	e.PartitionKey = meter
	return e
}

func TestWriteLatestWindowAndViews(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	p := New(client, &Options{KeyPrefix: prefix})

	var batch []contracts.Event
	for i := range 4 { // m-1: four reads, 15 minutes apart
		batch = append(batch, reading(t, "m-1", "t-1", "f-1", t0.Add(time.Duration(i)*15*time.Minute), 10+float64(i)))
	}
	batch = append(batch, reading(t, "m-2", "t-1", "f-1", t0, 50), reading(t, "m-3", "t-2", "f-1", t0, 70))
	res, err := p.Write(ctx, batch...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 6 || res.Older != 0 || res.Expired != 0 || len(res.Rejected) != 0 {
		t.Fatalf("Write = %+v, want 6 updated", res)
	}

	got, err := p.Latest(ctx, "m-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.EventID != batch[3].ID || got.EnergyKWhTotal != 13 || !got.ReadAt.Equal(t0.Add(45*time.Minute)) ||
		got.TransformerID != "t-1" || got.IntervalSeconds != 900 || got.VoltageVolts != 230.1 {
		t.Fatalf("Latest(m-1) = %+v, want the 00:45 read of event %s", got, batch[3].ID)
	}

	// A late read (older read_at) lands in the window but not in latest.
	late := reading(t, "m-1", "t-1", "f-1", t0.Add(-15*time.Minute), 9)
	res, err = p.Write(ctx, late)
	if err != nil || res.Updated != 0 || res.Older != 1 {
		t.Fatalf("Write(late) = %+v, %v; want 1 older", res, err)
	}
	if got, _ := p.Latest(ctx, "m-1"); got.EventID != batch[3].ID {
		t.Fatalf("a late read replaced the latest: %+v", got)
	}

	w, err := p.Window(ctx, "m-1", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var kwh []float64
	for _, r := range w {
		kwh = append(kwh, r.EnergyKWhTotal)
	}
	if !slices.Equal(kwh, []float64{9, 10, 11, 12, 13}) {
		t.Fatalf("Window = %v, want 9..13 oldest first", kwh)
	}
	// The range is half-open and crosses the UTC day boundary (the late
	// read is on the previous day's bucket).
	w, _ = p.Window(ctx, "m-1", t0.Add(-15*time.Minute), t0.Add(30*time.Minute))
	if len(w) != 3 || w[0].EnergyKWhTotal != 9 || w[2].EnergyKWhTotal != 11 {
		t.Fatalf("Window[-15m,30m) = %+v", w)
	}

	tr, err := p.Transformer(ctx, "t-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 2 || tr[0].MeterID != "m-1" || tr[0].EnergyKWhTotal != 13 || tr[1].MeterID != "m-2" {
		t.Fatalf("Transformer(t-1) = %+v", tr)
	}
	fd, err := p.Feeder(ctx, "f-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(fd) != 3 || fd[2].MeterID != "m-3" || fd[2].TransformerID != "t-2" {
		t.Fatalf("Feeder(f-1) = %+v", fd)
	}

	// Rewired: m-2 moves to t-2; t-1's view no longer lists it.
	if _, err := p.Write(ctx, reading(t, "m-2", "t-2", "f-1", t0.Add(time.Hour), 51)); err != nil {
		t.Fatal(err)
	}
	tr, _ = p.Transformer(ctx, "t-1")
	tr2, _ := p.Transformer(ctx, "t-2")
	if len(tr) != 1 || tr[0].MeterID != "m-1" || len(tr2) != 2 {
		t.Fatalf("after rewiring: t-1 %+v, t-2 %+v", tr, tr2)
	}
	if client.HExists(ctx, p.keys.transformer("t-1"), "m-2").Val() {
		t.Fatal("the stale view entry of a rewired meter was not removed")
	}
	// Rewired back: the write adds m-2 to t-1 again, and a clean-up that
	// read the view before that write (m-2 stale then) must not remove it.
	if _, err := p.Write(ctx, reading(t, "m-2", "t-1", "f-1", t0.Add(2*time.Hour), 52)); err != nil {
		t.Fatal(err)
	}
	if err := deleteIfStale.Run(ctx, client, []string{p.keys.transformer("t-1"), p.keys.latest("m-2")},
		"m-2", viewNeedle("transformer_id", "t-1")).Err(); err != nil {
		t.Fatal(err)
	}
	if tr, _ = p.Transformer(ctx, "t-1"); len(tr) != 2 || tr[1].MeterID != "m-2" || tr[1].EnergyKWhTotal != 52 {
		t.Fatalf("after rewiring back: t-1 %+v", tr)
	}
	// A steady meter leaves its views alone: the entry is membership only.
	if v := client.HGet(ctx, p.keys.transformer("t-1"), "m-1").Val(); v != "1" {
		t.Fatalf("view entry = %q, want the membership mark 1", v)
	}

	if _, err := p.Latest(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Latest(nobody) err = %v, want ErrNotFound", err)
	}
}

// TestWriteIsIdempotentAndOrderIndependent writes the same readings in
// different orders, with duplicates, into two prefixes and expects the same
// Redis state.
func TestWriteIsIdempotentAndOrderIndependent(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()

	var events []contracts.Event
	for m := range 5 {
		for i := range 8 {
			events = append(events, reading(t, fmt.Sprintf("m-%d", m), fmt.Sprintf("t-%d", m%2), "f-1",
				t0.Add(time.Duration(i)*15*time.Minute), float64(100*m+i)))
		}
	}
	// Same meter, same read_at, two events: the greater id wins wherever it arrives.
	twin := reading(t, "m-0", "t-0", "f-1", t0.Add(7*15*time.Minute), 999)
	events = append(events, twin)

	states := make([]map[string]string, 2)
	for run := range 2 {
		px := fmt.Sprintf("%srun%d:", prefix, run)
		p := New(client, &Options{KeyPrefix: px})
		order := slices.Clone(events)
		rng := mrand.New(mrand.NewPCG(uint64(run), 7))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		order = append(order, order[:10]...) // duplicates, as redelivery makes them
		for len(order) > 0 {
			n := min(len(order), 1+rng.IntN(9))
			if _, err := p.Write(ctx, order[:n]...); err != nil {
				t.Fatal(err)
			}
			order = order[n:]
		}
		states[run] = dumpPrefix(t, client, px)
	}
	if len(states[0]) != len(states[1]) {
		t.Fatalf("different key sets: %d vs %d keys", len(states[0]), len(states[1]))
	}
	for k, v := range states[0] {
		if states[1][k] != v {
			t.Errorf("key %s differs:\n%s\n%s", k, v, states[1][k])
		}
	}
	p := New(client, &Options{KeyPrefix: prefix + "run0:"})
	got, err := p.Latest(ctx, "m-0")
	if err != nil {
		t.Fatal(err)
	}
	wantID := max(twin.ID, events[7].ID)
	if got.EventID != wantID {
		t.Fatalf("Latest(m-0) from event %s, want the greater id %s", got.EventID, wantID)
	}
	w, _ := p.Window(ctx, "m-1", t0, t0.Add(24*time.Hour))
	if len(w) != 8 {
		t.Fatalf("Window(m-1) has %d readings after duplicates, want 8", len(w))
	}
}

// dumpPrefix returns every key under the prefix (without it) and a
// canonical rendering of its value.
func dumpPrefix(t *testing.T, c redis.UniversalClient, prefix string) map[string]string {
	ctx := context.Background()
	out := map[string]string{}
	it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		k := it.Val()
		var v any
		switch c.Type(ctx, k).Val() {
		case "string":
			v = c.Get(ctx, k).Val()
		case "hash":
			v = c.HGetAll(ctx, k).Val()
		case "zset":
			v = c.ZRangeWithScores(ctx, k, 0, -1).Val()
		}
		b, _ := json.Marshal(v)
		out[k[len(prefix):]] = string(b)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWindowExpiresAtUseBy(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	now := time.Now().UTC()
	p := New(client, &Options{KeyPrefix: prefix, WindowRetention: 6 * time.Hour})

	soon := reading(t, "m-1", "t-1", "f-1", now.Add(-time.Minute), 1)
	soon.ExpiryTime = now.Add(time.Hour)
	later := reading(t, "m-1", "t-1", "f-1", now.Add(-2*time.Minute), 2)
	later.ExpiryTime = now.Add(3 * time.Hour)
	noUseBy := reading(t, "m-2", "t-1", "f-1", now.Add(-time.Hour), 3)
	expired := reading(t, "m-3", "t-1", "f-1", now.Add(-time.Hour), 4)
	expired.ExpiryTime = now.Add(-time.Second)
	old := reading(t, "m-4", "t-1", "f-1", now.Add(-7*time.Hour), 5) // past retention, no use-by

	res, err := p.Write(ctx, soon, later, noUseBy, expired, old)
	if err != nil {
		t.Fatal(err)
	}
	if res.Expired != 1 || res.Updated != 3 || res.Older != 1 {
		t.Fatalf("Write = %+v, want 3 updated, 1 older, 1 expired", res)
	}
	ttl := func(meter string, at time.Time) time.Duration {
		return client.PTTL(ctx, p.keys.window(meter, at)).Val()
	}
	// The bucket lives until the greatest use-by of its members, whichever came first.
	if d := ttl("m-1", now.Add(-time.Minute)); d < 3*time.Hour-time.Minute || d > 3*time.Hour {
		t.Errorf("m-1 window TTL = %v, want ~3h (the later use-by)", d)
	}
	if d := ttl("m-2", now.Add(-time.Hour)); d < 5*time.Hour-time.Minute || d > 5*time.Hour {
		t.Errorf("m-2 window TTL = %v, want ~5h (read_at + 6h retention)", d)
	}
	if n := client.Exists(ctx, p.keys.latest("m-3"), p.keys.window("m-3", now.Add(-time.Hour))).Val(); n != 0 {
		t.Errorf("the expired event left %d keys", n)
	}
	if n := client.Exists(ctx, p.keys.window("m-4", now.Add(-7*time.Hour))).Val(); n != 0 {
		t.Errorf("a reading past retention was put in the window")
	}
	if _, err := p.Latest(ctx, "m-4"); err != nil {
		t.Errorf("a reading past window retention is still the latest: %v", err)
	}
}

func TestWriteRejectsWhatIsNoReading(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	p := New(client, &Options{KeyPrefix: prefix})
	other, _ := contracts.New("/services/x", "meter.reading.missed.v1", map[string]string{"meter_id": "m-1"})
	bad, _ := contracts.New("/services/x", ReadingType, map[string]any{"meter_id": "m-1"})
	good := reading(t, "m-1", "t-1", "f-1", time.Now(), 1)
	res, err := p.Write(ctx, other, bad, good)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 1 || len(res.Rejected) != 2 ||
		res.Rejected[0].EventID != other.ID || !errors.Is(res.Rejected[0].Err, ErrNotReading) ||
		res.Rejected[1].EventID != bad.ID || !errors.Is(res.Rejected[1].Err, ErrInvalidReading) {
		t.Fatalf("Write = %+v", res)
	}
}

func TestWriteReloadsAFlushedScript(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	p := New(client, &Options{KeyPrefix: prefix})
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := p.Write(ctx, reading(t, "m-1", "t-1", "f-1", time.Now(), 1)); err != nil || res.Updated != 1 {
		t.Fatalf("Write after SCRIPT FLUSH = %+v, %v", res, err)
	}
}

func TestWindowRange(t *testing.T) {
	p := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), nil)
	ctx := context.Background()
	if _, err := p.Window(ctx, "m", t0, t0); !errors.Is(err, ErrRange) {
		t.Errorf("empty range: %v", err)
	}
	if _, err := p.Window(ctx, "m", t0, t0.Add(100*24*time.Hour)); !errors.Is(err, ErrRange) {
		t.Errorf("100 days: %v", err)
	}
}

func TestOpenFailsClearly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, Config{URL: "redis://127.0.0.1:1/0", DialTimeout: time.Second}, nil)
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	t.Log(err)
}

func BenchmarkHotPondWrite(b *testing.B) {
	client, prefix := testRedis(b)
	ctx := context.Background()
	p := New(client, &Options{KeyPrefix: prefix})
	const batch, meters = 500, 10_000
	now := time.Now().UTC()
	events := make([]contracts.Event, 0, 100*batch)
	for i := range cap(events) {
		m := i % meters
		events = append(events, reading(b, fmt.Sprintf("m-%05d", m), fmt.Sprintf("t-%03d", m/50), fmt.Sprintf("f-%02d", m/1000),
			now.Add(time.Duration(i/meters)*15*time.Minute-24*time.Hour), float64(i)))
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		i := (n * batch) % len(events)
		if _, err := p.Write(ctx, events[i:i+batch]...); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*batch)/b.Elapsed().Seconds(), "readings/s")
}

// One Write of more readings than one script call stores gives the same
// state as writing them one at a time, in the same order.
func TestWriteInOneCallEqualsOneByOne(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	var events []contracts.Event
	for m := range 300 {
		for i := range 2 {
			events = append(events, reading(t, fmt.Sprintf("m-%d", m), "t-1", "f-1",
				t0.Add(time.Duration(i)*15*time.Minute), float64(m+i)))
		}
	}
	rng := mrand.New(mrand.NewPCG(3, 9))
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	whole := New(client, &Options{KeyPrefix: prefix + "whole:"})
	res, err := whole.Write(ctx, events...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated+res.Older != len(events) {
		t.Fatalf("Write counted %d updated + %d older, want %d readings", res.Updated, res.Older, len(events))
	}
	single := New(client, &Options{KeyPrefix: prefix + "single:"})
	for _, e := range events {
		if _, err := single.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	a, b := dumpPrefix(t, client, prefix+"whole:"), dumpPrefix(t, client, prefix+"single:")
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d keys written in one call, %d one by one", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("key %s differs:\n%s\n%s", k, v, b[k])
		}
	}
}
