package loadforecaster

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func newKit(t *testing.T, cfg Config) *riverstest.Kit {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	return riverstest.New(t, svc)
}

// t0 is a Monday midnight, the first window's start.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// shape is the tests' feeder load: the same every day, by hour of day.
func shape(t time.Time) float64 { return 500 + 10*float64(t.Hour()) }

func feederWindow(id string, start time.Time, load float64) events.FeederLoad {
	return events.FeederLoad{Level: "feeder", ID: id, FeederID: id, Start: start, End: start.Add(15 * time.Minute),
		LoadKW: load, EnergyKWh: load / 4, MetersReporting: 10, MetersExpected: 10}
}

func send(kit *riverstest.Kit, w events.FeederLoad) {
	e := kit.Event(events.TypeFeederLoad, w)
	e.PartitionKey = w.ID
	kit.Send(e, riverstest.OnTopic(rivers.Rivers))
}

// sendHours sends the feeder's windows for hours hours from `from`.
func sendHours(kit *riverstest.Kit, id string, from time.Time, hours int) {
	for q := range hours * 4 {
		st := from.Add(time.Duration(q) * 15 * time.Minute)
		send(kit, feederWindow(id, st, shape(st)))
	}
}

func forecasts(t *testing.T, kit *riverstest.Kit) []events.FeederLoadForecast {
	t.Helper()
	var out []events.FeederLoadForecast
	for _, e := range kit.Published(events.TypeFeederLoadForecast) {
		var f events.FeederLoadForecast
		if err := json.Unmarshal(e.Data, &f); err != nil {
			t.Fatal(err)
		}
		if e.ID != forecastID(f.FeederID, f.Model, f.IssuedAt.Unix()) || !e.Time.Equal(f.IssuedAt) {
			t.Errorf("forecast event id %q time %s", e.ID, e.Time)
		}
		out = append(out, f)
	}
	return out
}

func TestEveryHourEachModelForecastsTheNextDay(t *testing.T) {
	kit := newKit(t, Config{})
	sendHours(kit, "FDR-1", t0, 23)
	if n := len(forecasts(t, kit)); n != 0 {
		t.Fatalf("%d forecasts with less than a day of history", n)
	}
	sendHours(kit, "FDR-1", t0.Add(23*time.Hour), 3) // hours 23, 24, 25 close
	got := forecasts(t, kit)
	if len(got) != 6 {
		t.Fatalf("%d forecasts after 3 more hours, want 2 models × 3 hours", len(got))
	}
	last := got[len(got)-2:]
	for _, f := range last {
		if !f.IssuedAt.Equal(t0.Add(26*time.Hour)) || f.HistoryHours != 26 || len(f.Points) != Horizon || f.FeederID != "FDR-1" {
			t.Fatalf("forecast %s issued %s, %d h of history, %d points", f.Model, f.IssuedAt, f.HistoryHours, len(f.Points))
		}
		for k, p := range f.Points {
			want := shape(p.Start)
			if !p.Start.Equal(f.IssuedAt.Add(time.Duration(k)*time.Hour)) || !p.End.Equal(p.Start.Add(time.Hour)) || p.LoadKW != want {
				t.Errorf("%s point %d: %s–%s %.1f kW, want %.1f (every day is the same)", f.Model, k, p.Start, p.End, p.LoadKW, want)
				break
			}
		}
	}
	if last[0].Model != ModelSeasonalNaive || last[1].Model != ModelDayTypeProfile {
		t.Errorf("models %s, %s", last[0].Model, last[1].Model)
	}
}

func TestRepeatedAndTransformerWindowsChangeNothing(t *testing.T) {
	kit := newKit(t, Config{Models: []string{ModelSeasonalNaive}})
	sendHours(kit, "FDR-1", t0, 25)
	n := len(forecasts(t, kit))
	// A window repeated (a publisher's restart), one of a closed hour, and
	// a transformer's window.
	send(kit, feederWindow("FDR-1", t0.Add(24*time.Hour), 9999))
	send(kit, feederWindow("FDR-1", t0.Add(2*time.Hour), 9999))
	tx := feederWindow("TX-1", t0.Add(25*time.Hour), 9999)
	tx.Level = "transformer"
	send(kit, tx)
	sendHours(kit, "FDR-1", t0.Add(25*time.Hour), 1)
	got := forecasts(t, kit)
	if len(got) != n+1 {
		t.Fatalf("%d forecasts, want %d", len(got), n+1)
	}
	for _, p := range got[len(got)-1].Points {
		if p.LoadKW != shape(p.Start) {
			t.Fatalf("a repeated or transformer window reached the history: %+v", p)
		}
	}
	if len(kit.DeadLetters()) != 0 {
		t.Errorf("dead letters: %+v", kit.DeadLetters())
	}
}

func TestAnHourWhoseLastWindowsNeverCameClosesOnTheNext(t *testing.T) {
	kit := newKit(t, Config{Models: []string{ModelSeasonalNaive}})
	sendHours(kit, "FDR-1", t0, 24)
	// Hour 24 gets two windows only; hour 25 comes whole.
	send(kit, feederWindow("FDR-1", t0.Add(24*time.Hour), 100))
	send(kit, feederWindow("FDR-1", t0.Add(24*time.Hour+15*time.Minute), 200))
	before := len(forecasts(t, kit))
	sendHours(kit, "FDR-1", t0.Add(25*time.Hour), 1)
	got := forecasts(t, kit)
	// Hour 25's first window closes hour 24 (issued at 25), its last one
	// closes hour 25 (issued at 26).
	if len(got) != before+2 || !got[len(got)-2].IssuedAt.Equal(t0.Add(25*time.Hour)) || !got[len(got)-1].IssuedAt.Equal(t0.Add(26*time.Hour)) {
		t.Fatalf("%d forecasts (was %d), last issued %s: want two, issued at hours 25 and 26", len(got), before, got[len(got)-1].IssuedAt)
	}
	// Tomorrow's hour 24 is forecast from hour 24's mean, 150 kW.
	if p := got[len(got)-1].Points[22]; !p.Start.Equal(t0.Add(48*time.Hour)) || p.LoadKW != 150 {
		t.Errorf("point %s %.1f kW, want hour 48 at 150 kW", p.Start, p.LoadKW)
	}
}

func TestARestartedForecasterForecastsFromItsStore(t *testing.T) {
	store := NewMemoryStore()
	kit := newKit(t, Config{Store: store})
	sendHours(kit, "FDR-1", t0, 24)
	kit2 := newKit(t, Config{Store: store})
	sendHours(kit2, "FDR-1", t0.Add(24*time.Hour), 1)
	if got := forecasts(t, kit2); len(got) != 2 || got[0].HistoryHours != 25 {
		t.Fatalf("after a restart: %d forecasts (%+v), want both models at once from 25 h of history", len(got), got)
	}
}

func TestConfigFromEnvReportsEveryProblem(t *testing.T) {
	t.Setenv("FORECAST_MODELS", "seasonal_naive,crystal_ball")
	t.Setenv("FORECAST_TIME_ZONE", "Mars/Olympus")
	t.Setenv("FORECAST_KEEP_DAYS", "5")
	_, err := ConfigFromEnv()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"crystal_ball", "FORECAST_TIME_ZONE", "FORECAST_KEEP_DAYS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

// testStore is what every Store must do.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	if h, err := s.Hours(ctx, "F1"); err != nil || len(h) != 0 {
		t.Fatalf("Hours of an unknown feeder: %v %v", h, err)
	}
	for i := range int64(4) {
		if err := s.Put(ctx, "F1", 3600*i, 100.5+float64(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "F1", 3600*4, 7, []int64{0, 3600}); err != nil {
		t.Fatal(err)
	}
	h, err := s.Hours(ctx, "F1")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[7200] != 102.5 || h[10800] != 103.5 || h[14400] != 7 {
		t.Errorf("hours %v", h)
	}
	if h, _ := s.Hours(ctx, "F2"); len(h) != 0 {
		t.Errorf("F2 has %v", h)
	}
}

func TestMemoryStore(t *testing.T) { testStore(t, NewMemoryStore()) }
