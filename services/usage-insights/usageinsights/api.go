package usageinsights

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/bearer"
)

// The API (chi, JSON), behind Config.APIToken (package bearer: without a
// token, loopback clients only):
//
//	GET /v1/meters/{id}/insights?days=14   daily and weekly usage, baseline, cohort, unusual days
//	PUT /v1/meters/{id}/preferences       {"read_interval_s": 900}: a set_interval command
//
// The preferences endpoint sends a command to a meter, so it is off (403)
// until INSIGHTS_API_TOKEN is set.
func (s *service) api() http.Handler {
	r := chi.NewRouter()
	r.Use(bearer.Guard{Realm: Name, Env: "INSIGHTS_API_TOKEN", Token: s.cfg.APIToken,
		Reply: func(w http.ResponseWriter, code int, msg string) { fail(w, code, "%s", msg) }}.Wrap)
	r.Get("/v1/meters/{id}/insights", s.insights)
	r.Put("/v1/meters/{id}/preferences", s.preferences)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusMethodNotAllowed, "%s is not allowed here", r.Method)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such endpoint: GET /v1/meters/{id}/insights, PUT /v1/meters/{id}/preferences")
	})
	return r
}

// Insights is the answer of GET /v1/meters/{id}/insights.
type Insights struct {
	Meter
	// Days are the newest days, newest first, each with its cohort.
	Days []DayInsight `json:"days"`
	// Weeks are the calendar weeks of the days kept, newest first.
	Weeks []Week `json:"weeks"`
	// BaselineKWh is the mean of the newest days with enough reads (up to
	// INSIGHTS_BASELINE_DAYS), the figure unusual days are judged against;
	// absent with fewer than INSIGHTS_MIN_BASELINE_DAYS of them.
	BaselineKWh *float64 `json:"baseline_kwh,omitempty"`
	// Unusual are the days kept that were published as unusual.
	Unusual []time.Time `json:"unusual"`
}

// DayInsight is one day of a meter with its transformer's cohort.
type DayInsight struct {
	Day
	Coverage float64 `json:"coverage"`
	// CohortMedianKWh is the median of the other meters of the transformer
	// that day; CohortMeters how many they are; CohortRank the share of
	// them that used less than this meter (0.9: more than 90 % of them).
	CohortMedianKWh *float64 `json:"cohort_median_kwh,omitempty"`
	CohortMeters    int      `json:"cohort_meters"`
	CohortRank      *float64 `json:"cohort_rank,omitempty"`
}

func (s *service) insights(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	n := 14
	if v := r.URL.Query().Get("days"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > s.cfg.KeepDays {
			fail(w, http.StatusBadRequest, "days=%q: want 1 to %d (INSIGHTS_KEEP_DAYS)", v, s.cfg.KeepDays)
			return
		}
	}
	m, days, err := s.cfg.Store.Meter(r.Context(), id)
	if errors.Is(err, ErrUnknownMeter) {
		fail(w, http.StatusNotFound, "meter %q: no daily usage yet", id)
		return
	}
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "the store: %v", err)
		return
	}
	out := Insights{Meter: m, Weeks: weeks(days), Unusual: []time.Time{}}
	for _, d := range days {
		if d.Unusual {
			out.Unusual = append(out.Unusual, d.Start)
		}
	}
	// The baseline a day after the newest would be judged against.
	var base []float64
	for i := len(days) - 1; i >= 0 && len(base) < s.cfg.BaselineDays; i-- {
		if days[i].Coverage() >= s.cfg.MinCoverage {
			base = append(base, days[i].EnergyKWh)
		}
	}
	if len(base) >= s.cfg.MinBaselineDays {
		sum := 0.0
		for _, x := range base {
			sum += x
		}
		b := round3(sum / float64(len(base)))
		out.BaselineKWh = &b
	}
	recent := days[max(0, len(days)-n):]
	starts := make([]time.Time, len(recent))
	for i, d := range recent {
		starts[i] = d.Start
	}
	cohorts, err := s.cfg.Store.Cohorts(r.Context(), m.TransformerID, starts)
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "the store: %v", err)
		return
	}
	for i, d := range recent {
		di := DayInsight{Day: d, Coverage: round3(d.Coverage())}
		var others []float64
		below := 0
		for mid, kwh := range cohorts[i] {
			if mid == m.ID {
				continue
			}
			others = append(others, kwh)
			if kwh < d.EnergyKWh {
				below++
			}
		}
		di.CohortMeters = len(others)
		if med, ok := median(others); ok {
			med = round3(med)
			rank := round3(float64(below) / float64(len(others)))
			di.CohortMedianKWh, di.CohortRank = &med, &rank
		}
		out.Days = append(out.Days, di)
	}
	slices.Reverse(out.Days)
	reply(w, http.StatusOK, out)
}

// Preference is the body of PUT /v1/meters/{id}/preferences.
type Preference struct {
	// ReadIntervalSeconds is how often the customer wants the meter read.
	ReadIntervalSeconds int `json:"read_interval_s"`
}

// preferences turns a customer's read-frequency preference into a
// set_interval command through the command-dispatcher
// (meter.command.requested.v1, a signed control event).
func (s *service) preferences(w http.ResponseWriter, r *http.Request) {
	if s.cfg.APIToken == "" {
		fail(w, http.StatusForbidden, "preferences are off: they send commands to meters, so set INSIGHTS_API_TOKEN (or INSIGHTS_API_TOKEN_FILE) to enable them")
		return
	}
	id := chi.URLParam(r, "id")
	var p Preference
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		fail(w, http.StatusBadRequest, "want {\"read_interval_s\": seconds}: %v", err)
		return
	}
	if !slices.Contains(s.cfg.ReadIntervals, p.ReadIntervalSeconds) {
		fail(w, http.StatusBadRequest, "read_interval_s %d: want one of %v (INSIGHTS_READ_INTERVALS)", p.ReadIntervalSeconds, s.cfg.ReadIntervals)
		return
	}
	if _, _, err := s.cfg.Store.Meter(r.Context(), id); errors.Is(err, ErrUnknownMeter) {
		fail(w, http.StatusNotFound, "meter %q: no daily usage yet", id)
		return
	} else if err != nil {
		fail(w, http.StatusServiceUnavailable, "the store: %v", err)
		return
	}
	cmd := events.MeterCommandRequested{CommandID: "insights-" + contracts.NewID(), MeterID: id, Command: "set_interval",
		Parameters: events.CommandParameters{IntervalSeconds: p.ReadIntervalSeconds}, RequestedBy: "/services/" + Name}
	if err := s.svc.Publish(r.Context(), events.TypeMeterCommandRequested, cmd, rivers.WithTTL(s.cfg.CommandTTL)); err != nil {
		fail(w, http.StatusServiceUnavailable, "the command was not sent: %v", err)
		return
	}
	reply(w, http.StatusAccepted, map[string]string{"command_id": cmd.CommandID, "meter_id": id, "command": cmd.Command,
		"status": "requested: the command-dispatcher sends it and publishes its outcome (meter.command.outcome.v1)"})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	reply(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}
