package alertrouter

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
)

// SilenceRequest is the body of POST /v1/silences: either EndsAt or
// Duration (a Go duration such as "2h").
type SilenceRequest struct {
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at,omitzero"`
	EndsAt    time.Time `json:"ends_at,omitzero"`
	Duration  string    `json:"duration,omitempty"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
}

// Routes returns the alert-router's JSON API (what `watershed alerts` uses):
//
//	GET    /v1/alerts                    alerts; ?state=firing|resolved, ?active=true (firing, not silenced or inhibited)
//	GET    /v1/silences                  silences, newest first
//	POST   /v1/silences                  add one (SilenceRequest) → 201 and the silence
//	DELETE /v1/silences/{id}             expire one now
//	GET    /v1/deliveries                delivery attempts, newest first; ?limit=N (default 100)
//	GET    /v1/outbox                    notifications waiting for delivery
//	GET    /v1/dead                      notifications that could not be delivered
//	POST   /v1/dead/{id}/retry           send a dead notification again
//	GET    /v1/rules                     the subscribed types, alerts, routes and receivers in force
//
// Errors are {"error": "..."} with a 4xx or 5xx status.
func Routes(r *Router, now func() time.Time) http.Handler {
	m := chi.NewRouter()
	m.Get("/v1/alerts", func(w http.ResponseWriter, req *http.Request) {
		state, active := req.URL.Query().Get("state"), req.URL.Query().Get("active") == "true"
		out := []Alert{}
		for _, a := range r.Alerts(now()) {
			if state != "" && a.State != state {
				continue
			}
			if active && (a.State != StateFiring || a.Inhibited || len(a.SilencedBy) > 0) {
				continue
			}
			out = append(out, a)
		}
		writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
	})
	m.Get("/v1/silences", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"silences": r.Silences()})
	})
	m.Post("/v1/silences", func(w http.ResponseWriter, req *http.Request) {
		var sr SilenceRequest
		dec := json.NewDecoder(io.LimitReader(req.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sr); err != nil {
			writeErr(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		t := now()
		s := Silence{Matchers: sr.Matchers, StartsAt: sr.StartsAt, EndsAt: sr.EndsAt, CreatedBy: sr.CreatedBy, Comment: sr.Comment}
		if sr.Duration != "" {
			d, err := time.ParseDuration(sr.Duration)
			if err != nil || d <= 0 {
				writeErr(w, http.StatusBadRequest, "duration "+strconv.Quote(sr.Duration)+": want a positive duration such as 2h")
				return
			}
			start := sr.StartsAt
			if start.IsZero() {
				start = t
			}
			s.EndsAt = start.Add(d)
		}
		out, err := r.AddSilence(req.Context(), t, s)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, out)
	})
	m.Delete("/v1/silences/{id}", func(w http.ResponseWriter, req *http.Request) {
		s, err := r.ExpireSilence(req.Context(), now(), chi.URLParam(req, "id"))
		if err != nil {
			writeErr(w, status(err), err.Error())
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
	m.Get("/v1/deliveries", func(w http.ResponseWriter, req *http.Request) {
		n := 100
		if v := req.URL.Query().Get("limit"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 {
				writeErr(w, http.StatusBadRequest, "limit "+strconv.Quote(v)+": want a positive number")
				return
			}
		}
		ds, err := r.Deliveries(req.Context(), n)
		if err != nil {
			writeErr(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
	})
	m.Get("/v1/outbox", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"notifications": r.Pending(false)})
	})
	m.Get("/v1/dead", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"notifications": r.Pending(true)})
	})
	m.Post("/v1/dead/{id}/retry", func(w http.ResponseWriter, req *http.Request) {
		if err := r.Retry(req.Context(), now(), chi.URLParam(req, "id")); err != nil {
			writeErr(w, status(err), err.Error())
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	})
	m.Get("/v1/rules", func(w http.ResponseWriter, _ *http.Request) {
		type route struct {
			RouteSpec
			GroupWait, GroupInterval, RepeatInterval string
		}
		rs := []route{}
		for _, rt := range r.rules.Routes {
			rs = append(rs, route{RouteSpec: rt.RouteSpec, GroupWait: time.Duration(rt.GroupWait).String(),
				GroupInterval: time.Duration(rt.GroupInterval).String(), RepeatInterval: time.Duration(rt.RepeatInterval).String()})
		}
		recv := []map[string]string{}
		for _, rc := range r.rules.Receivers {
			kind := "email"
			if rc.Webhook != nil {
				kind = "webhook"
			} else if rc.Slack != nil {
				kind = "slack"
			}
			recv = append(recv, map[string]string{"name": rc.Name, "kind": kind}) // no URLs: they carry tokens
		}
		kinds := []AlertSpec{}
		for _, k := range r.rules.Kinds {
			kinds = append(kinds, k.AlertSpec)
		}
		writeJSON(w, http.StatusOK, map[string]any{"types": r.rules.Types(), "alerts": kinds, "routes": rs,
			"receivers": recv, "inhibit": r.rules.Inhibits})
	})
	return m
}

func status(err error) int {
	if errors.Is(err, ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusServiceUnavailable
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
