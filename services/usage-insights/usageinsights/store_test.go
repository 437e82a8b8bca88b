package usageinsights

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// testStore is what every Store must do.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	if _, _, err := s.Meter(ctx, "M1"); !errors.Is(err, ErrUnknownMeter) {
		t.Fatalf("Meter of an unknown meter: %v", err)
	}
	m := Meter{ID: "M1", TransformerID: "TX1", FeederID: "F1"}
	day := func(n int, kwh float64) Day {
		st := day0.AddDate(0, 0, n)
		return Day{Start: st, End: st.AddDate(0, 0, 1), EnergyKWh: kwh, Reads: 96, ReadsExpected: 96}
	}
	for n := range 5 {
		days, err := s.PutDay(ctx, m, day(n, float64(n)), 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(n+1, 3); len(days) != want || !days[len(days)-1].Start.Equal(day0.AddDate(0, 0, n)) {
			t.Fatalf("after day %d: %d days %+v, want the newest %d in order", n, len(days), days, want)
		}
	}
	// A judgement survives a correction of the day.
	r := 2.5
	j := day(4, 4)
	j.Judged, j.Ratio, j.Unusual = true, &r, true
	if err := s.SetDay(ctx, "M1", j); err != nil {
		t.Fatal(err)
	}
	days, err := s.PutDay(ctx, m, day(4, 4.5), 3)
	if err != nil {
		t.Fatal(err)
	}
	last := days[len(days)-1]
	if last.EnergyKWh != 4.5 || !last.Judged || !last.Unusual || last.Ratio == nil || *last.Ratio != 2.5 {
		t.Errorf("corrected day %+v: want the new figure and the old judgement", last)
	}
	got, days, err := s.Meter(ctx, "M1")
	if err != nil || got != m || len(days) != 3 || !days[0].Start.Equal(day0.AddDate(0, 0, 2)) {
		t.Errorf("Meter: %+v %+v %v", got, days, err)
	}
	if _, err := s.PutDay(ctx, Meter{ID: "M2", TransformerID: "TX1", FeederID: "F1"}, day(4, 7), 3); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Cohorts(ctx, "TX1", []time.Time{day0, day0.AddDate(0, 0, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || len(cs[0]) != 0 || len(cs[1]) != 2 || cs[1]["M1"] != 4.5 || cs[1]["M2"] != 7 {
		t.Errorf("cohorts %v: want day 0 dropped (M1 keeps 3 days) and day 4 with both meters", cs)
	}
	// Offsets survive the store: a day in UTC+1 keeps its instant.
	cet := time.FixedZone("", 3600)
	st := time.Date(2026, 3, 20, 0, 0, 0, 0, cet)
	if _, err := s.PutDay(ctx, Meter{ID: "M3", TransformerID: "TX2", FeederID: "F1"}, Day{Start: st, End: st.AddDate(0, 0, 1), EnergyKWh: 1}, 3); err != nil {
		t.Fatal(err)
	}
	if _, days, _ := s.Meter(ctx, "M3"); len(days) != 1 || !days[0].Start.Equal(st) {
		t.Errorf("M3's days %+v", days)
	}
}

func TestMemoryStore(t *testing.T) { testStore(t, NewMemoryStore()) }

func TestIntegrationRedisStore(t *testing.T) {
	url := riverstest.RequireServer(t, riverstest.EnvRedis, "Redis")
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	prefix := "ws:test-" + contracts.NewID()[:8] + ":insights:"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := c.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		_ = c.Close()
	})
	s := NewRedisStore(c, prefix)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	testStore(t, s)
}
