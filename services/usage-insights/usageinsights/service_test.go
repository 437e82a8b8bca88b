package usageinsights

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

const testToken = "s3cret-s3cret-s3cret"

func newKit(t *testing.T, cfg Config) (*riverstest.Kit, *rivers.Service) {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "0.0.1", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	return riverstest.New(t, svc), svc
}

// day0 is the first day of the tests' meters.
var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// usageDay is meter's usage.interval.v1 for day n (from day0), with reads
// of 96 expected.
func usageDay(meter, tx string, n int, kwh float64, reads int) events.UsageInterval {
	start := day0.AddDate(0, 0, n)
	return events.UsageInterval{MeterID: meter, TransformerID: tx, FeederID: "FDR-1", Period: "day",
		Start: start, End: start.AddDate(0, 0, 1), EnergyKWh: kwh, Reads: reads, ReadsExpected: 96}
}

func send(kit *riverstest.Kit, u events.UsageInterval) {
	e := kit.Event(events.TypeUsageInterval, u)
	e.PartitionKey = u.MeterID
	kit.Send(e, riverstest.OnTopic(rivers.Rivers))
}

func unusual(kit *riverstest.Kit) []events.UsageUnusual {
	var out []events.UsageUnusual
	for _, e := range kit.Published(events.TypeUsageUnusual) {
		var u events.UsageUnusual
		if err := json.Unmarshal(e.Data, &u); err != nil {
			panic(err)
		}
		out = append(out, u)
	}
	return out
}

func TestADayFarAboveItsBaselineIsUnusualOnceTheNextDayArrives(t *testing.T) {
	kit, _ := newKit(t, Config{})
	for n := range 5 {
		send(kit, usageDay("M1", "TX1", n, 10+float64(n), 96)) // baseline 12
	}
	send(kit, usageDay("M2", "TX1", 5, 11, 96))
	send(kit, usageDay("M3", "TX1", 5, 15, 96))
	send(kit, usageDay("M1", "TX1", 5, 40, 96))
	if got := unusual(kit); len(got) != 0 {
		t.Fatalf("judged before the next day arrived: %+v", got)
	}
	send(kit, usageDay("M1", "TX1", 6, 12, 96))
	got := unusual(kit)
	if len(got) != 1 {
		t.Fatalf("%d usage.unusual.v1, want 1", len(got))
	}
	u := got[0]
	if u.MeterID != "M1" || !u.Start.Equal(day0.AddDate(0, 0, 5)) || u.EnergyKWh != 40 || u.BaselineKWh != 12 ||
		u.BaselineDays != 5 || u.Ratio != 3.333 || u.Threshold != 3 || u.CohortMedianKWh == nil || *u.CohortMedianKWh != 13 {
		t.Errorf("usage.unusual.v1 %+v (cohort median %v)", u, u.CohortMedianKWh)
	}
	ev := kit.Published(events.TypeUsageUnusual)[0]
	if ev.ID != unusualID("M1", Day{Start: u.Start}) || !ev.Time.Equal(u.End) {
		t.Errorf("event id %q time %s: want the (meter, day) id and the day's end", ev.ID, ev.Time)
	}
	// A correction of the next day re-judges nothing.
	send(kit, usageDay("M1", "TX1", 6, 12.5, 96))
	if n := len(unusual(kit)); n != 1 {
		t.Errorf("%d usage.unusual.v1 after a correction of the next day, want still 1", n)
	}
}

// The trap of issue #17: usage is corrected. A day first published with a
// gap's whole difference, then corrected when the late reads came, is
// judged on its latest figures, not the first.
func TestTheLatestFiguresOfADayAreJudged(t *testing.T) {
	kit, _ := newKit(t, Config{})
	for n := range 4 {
		send(kit, usageDay("M1", "TX1", n, 10, 96))
	}
	send(kit, usageDay("M1", "TX1", 4, 45, 96)) // a burst... corrected below
	send(kit, usageDay("M1", "TX1", 4, 11, 96))
	send(kit, usageDay("M1", "TX1", 5, 10, 96))
	if got := unusual(kit); len(got) != 0 {
		t.Errorf("a day corrected to its usual figure was judged unusual: %+v", got)
	}
}

func TestDaysMissingReadsAreNotJudged(t *testing.T) {
	for _, tc := range []struct {
		name             string
		prevReads, reads int
	}{
		{"the day itself", 96, 40},
		{"the day before it", 40, 96}, // its gap's energy may sit in the day
	} {
		t.Run(tc.name, func(t *testing.T) {
			kit, _ := newKit(t, Config{})
			for n := range 4 {
				send(kit, usageDay("M1", "TX1", n, 10, 96))
			}
			send(kit, usageDay("M1", "TX1", 4, 2, tc.prevReads))
			send(kit, usageDay("M1", "TX1", 5, 50, tc.reads))
			send(kit, usageDay("M1", "TX1", 6, 10, 96))
			if got := unusual(kit); len(got) != 0 {
				t.Errorf("judged unusual: %+v", got)
			}
		})
	}
}

func TestNoBaselineNoVerdict(t *testing.T) {
	kit, _ := newKit(t, Config{})
	send(kit, usageDay("M1", "TX1", 0, 10, 96))
	send(kit, usageDay("M1", "TX1", 1, 10, 96))
	send(kit, usageDay("M1", "TX1", 2, 90, 96)) // 2 earlier days < 3
	send(kit, usageDay("M1", "TX1", 3, 10, 96))
	if got := unusual(kit); len(got) != 0 {
		t.Errorf("judged without a baseline: %+v", got)
	}
	// Tiny days are never unusual (INSIGHTS_MIN_KWH).
	kit2, _ := newKit(t, Config{})
	for n := range 4 {
		send(kit2, usageDay("M1", "TX1", n, 0.1, 96))
	}
	send(kit2, usageDay("M1", "TX1", 4, 0.9, 96))
	send(kit2, usageDay("M1", "TX1", 5, 0.1, 96))
	if got := unusual(kit2); len(got) != 0 {
		t.Errorf("a day under INSIGHTS_MIN_KWH judged unusual: %+v", got)
	}
}

func TestHourlyUsageIsNotRead(t *testing.T) {
	kit, _ := newKit(t, Config{})
	u := usageDay("M1", "TX1", 0, 1, 4)
	u.Period, u.End, u.ReadsExpected = "hour", u.Start.Add(time.Hour), 4
	send(kit, u)
	if n := kit.Metric(rivers.MetricHandlerDuration, "river", "usage-day"); n != 0 {
		t.Errorf("an hourly usage reached the handler (%v)", n)
	}
	if len(kit.DeadLetters()) != 0 {
		t.Errorf("an hourly usage was dead-lettered: %+v", kit.DeadLetters())
	}
}

func TestConfigFromEnvReportsEveryProblem(t *testing.T) {
	t.Setenv("INSIGHTS_UNUSUAL_FACTOR", "0.5")
	t.Setenv("INSIGHTS_MIN_COVERAGE", "2")
	t.Setenv("INSIGHTS_READ_INTERVALS", "900,abc")
	t.Setenv("INSIGHTS_KEEP_DAYS", "3")
	_, err := ConfigFromEnv()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"INSIGHTS_UNUSUAL_FACTOR", "INSIGHTS_MIN_COVERAGE", "INSIGHTS_READ_INTERVALS", "INSIGHTS_KEEP_DAYS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

func TestWeeksStartOnMonday(t *testing.T) {
	var days []Day
	for n := range 9 { // day0 is a Monday
		s := day0.AddDate(0, 0, n)
		days = append(days, Day{Start: s, End: s.AddDate(0, 0, 1), EnergyKWh: 1.5})
	}
	w := weeks(days)
	if len(w) != 2 || !w[1].Start.Equal(day0) || w[1].Days != 7 || !w[1].Complete || w[1].EnergyKWh != 10.5 ||
		w[0].Days != 2 || w[0].Complete || !w[0].Start.Equal(day0.AddDate(0, 0, 7)) {
		t.Errorf("weeks %+v", w)
	}
}

func api(t *testing.T, svc *rivers.Service, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	svc.HTTPHandler().ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, rec.Code, rec.Body)
	}
	return rec.Code, out
}

func TestInsightsAPI(t *testing.T) {
	kit, svc := newKit(t, Config{})
	for n := range 8 {
		send(kit, usageDay("M1", "TX1", n, 10+float64(n%2), 96))
		send(kit, usageDay("M2", "TX1", n, 20, 96))
		send(kit, usageDay("M3", "TX1", n, 5, 96))
	}
	code, got := api(t, svc, http.MethodGet, "/v1/meters/M1/insights?days=3", "", "")
	if code != http.StatusOK {
		t.Fatalf("insights: %d %v", code, got)
	}
	days, _ := got["days"].([]any)
	if got["transformer_id"] != "TX1" || len(days) != 3 {
		t.Fatalf("insights %v", got)
	}
	d0 := days[0].(map[string]any)
	if d0["start"] != day0.AddDate(0, 0, 7).Format(time.RFC3339) || d0["energy_kwh"] != 11.0 ||
		d0["cohort_median_kwh"] != 12.5 || d0["cohort_rank"] != 0.5 || d0["cohort_meters"] != 2.0 || d0["coverage"] != 1.0 {
		t.Errorf("newest day %v", d0)
	}
	if w := got["weeks"].([]any); len(w) != 2 || w[1].(map[string]any)["energy_kwh"] != 73.0 {
		t.Errorf("weeks %v", got["weeks"])
	}
	if got["baseline_kwh"] != 10.571 { // the newest 7: 4×11 + 3×10
		t.Errorf("baseline %v", got["baseline_kwh"])
	}
	if code, _ := api(t, svc, http.MethodGet, "/v1/meters/NOPE/insights", "", ""); code != http.StatusNotFound {
		t.Errorf("unknown meter: %d, want 404", code)
	}
	if code, _ := api(t, svc, http.MethodGet, "/v1/meters/M1/insights?days=0", "", ""); code != http.StatusBadRequest {
		t.Errorf("days=0: %d, want 400", code)
	}
	if code, _ := api(t, svc, http.MethodPost, "/v1/meters/M1/insights", "", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}
	// Without a token, only loopback clients are served.
	req := httptest.NewRequest(http.MethodGet, "/v1/meters/M1/insights", nil)
	req.RemoteAddr = "10.0.0.7:40000"
	rec := httptest.NewRecorder()
	svc.HTTPHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "INSIGHTS_API_TOKEN") {
		t.Errorf("a remote client without a token configured: %d %s", rec.Code, rec.Body)
	}
	// Without a token, preferences are off.
	if code, out := api(t, svc, http.MethodPut, "/v1/meters/M1/preferences", "", `{"read_interval_s":900}`); code != http.StatusForbidden ||
		!strings.Contains(out["error"].(string), "INSIGHTS_API_TOKEN") {
		t.Errorf("preferences without a token configured: %d %v", code, out)
	}
	if n := len(kit.Published(events.TypeMeterCommandRequested)); n != 0 {
		t.Errorf("%d commands requested", n)
	}
}

func TestPreferencesBecomeACommand(t *testing.T) {
	kit, svc := newKit(t, Config{APIToken: testToken})
	send(kit, usageDay("M1", "TX1", 0, 10, 96))
	if code, _ := api(t, svc, http.MethodGet, "/v1/meters/M1/insights", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := api(t, svc, http.MethodGet, "/v1/meters/M1/insights", "wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	for _, bad := range []struct {
		path, body string
		code       int
	}{
		{"/v1/meters/M1/preferences", `{"read_interval_s":7}`, http.StatusBadRequest},
		{"/v1/meters/M1/preferences", `{"interval":900}`, http.StatusBadRequest},
		{"/v1/meters/M1/preferences", `not json`, http.StatusBadRequest},
		{"/v1/meters/NOPE/preferences", `{"read_interval_s":900}`, http.StatusNotFound},
	} {
		if code, out := api(t, svc, http.MethodPut, bad.path, testToken, bad.body); code != bad.code {
			t.Errorf("PUT %s %s: %d %v, want %d", bad.path, bad.body, code, out, bad.code)
		}
	}
	code, out := api(t, svc, http.MethodPut, "/v1/meters/M1/preferences", testToken, `{"read_interval_s":1800}`)
	if code != http.StatusAccepted {
		t.Fatalf("PUT preferences: %d %v", code, out)
	}
	cmds := kit.Published(events.TypeMeterCommandRequested)
	if len(cmds) != 1 {
		t.Fatalf("%d commands requested, want 1", len(cmds))
	}
	var c events.MeterCommandRequested
	if err := json.Unmarshal(cmds[0].Data, &c); err != nil {
		t.Fatal(err)
	}
	if c.MeterID != "M1" || c.Command != "set_interval" || c.Parameters.IntervalSeconds != 1800 ||
		c.CommandID != out["command_id"] || cmds[0].ExpiryTime.IsZero() {
		t.Errorf("command %+v (expires %s), answer %v", c, cmds[0].ExpiryTime, out)
	}
}
