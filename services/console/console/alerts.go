package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The alerts page: the alert-router's alerts and silences; operators add
// and expire silences. The alert-router keeps them; the console only asks.

type alertsBody struct {
	Firing, Resolved []alertRow
	Silences         []silenceRow
	// Err: the alert-router did not answer (nothing else is shown).
	Err string
	// RoutesErr: its routes could not be read, so receivers are unknown.
	RoutesErr string
	Operator  bool
	Form      silenceForm
	FormErr   string
}

// alertRow is an alert with where it is sent: the receivers of the routes
// of its groups. It is also the JSON of GET /api/alerts.
type alertRow struct {
	Alert
	Receivers []string `json:"receivers"`
}

// silenceRow is a silence with its state at the time of the page: pending,
// active or expired.
type silenceRow struct {
	Silence
	State string `json:"state"`
}

// silenceForm is what the operator typed, shown again when refused.
type silenceForm struct {
	Matchers string // one a line
	Duration string
	Comment  string
}

// loadAlerts reads alerts, silences and routes; a failure is set on the
// body, for the page to say.
func (s *Server) loadAlerts(ctx context.Context) alertsBody {
	var body alertsBody
	alerts, err := s.back.alertList(ctx)
	if err != nil {
		body.Err = err.Error()
		return body
	}
	sils, err := s.back.silences(ctx)
	if err != nil {
		body.Err = err.Error()
		return body
	}
	routes, err := s.back.alertRoutes(ctx)
	if err != nil {
		body.RoutesErr = err.Error()
	}
	receivers := map[string][]string{}
	for _, rt := range routes {
		receivers[rt.Name] = rt.Receivers
	}
	for _, a := range alerts {
		row := alertRow{Alert: a, Receivers: []string{}}
		for _, g := range a.Groups {
			route, _, _ := strings.Cut(g, "{")
			row.Receivers = append(row.Receivers, receivers[route]...)
		}
		slices.Sort(row.Receivers)
		row.Receivers = slices.Compact(row.Receivers)
		if a.State == "firing" {
			body.Firing = append(body.Firing, row)
		} else {
			body.Resolved = append(body.Resolved, row)
		}
	}
	slices.SortFunc(body.Firing, func(a, b alertRow) int { return b.StartsAt.Compare(a.StartsAt) })
	slices.SortFunc(body.Resolved, func(a, b alertRow) int { return b.EndsAt.Compare(a.EndsAt) })
	now := s.now()
	for _, sl := range sils {
		st := "active"
		switch {
		case !now.Before(sl.EndsAt):
			st = "expired"
		case now.Before(sl.StartsAt):
			st = "pending"
		}
		body.Silences = append(body.Silences, silenceRow{Silence: sl, State: st})
	}
	rank := map[string]int{"active": 0, "pending": 1, "expired": 2}
	slices.SortStableFunc(body.Silences, func(a, b silenceRow) int { return cmp.Compare(rank[a.State], rank[b.State]) })
	return body
}

func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request) {
	body := s.loadAlerts(r.Context())
	body.Operator = currentUser(r.Context()).Role == RoleOperator
	body.Form = silenceForm{Matchers: r.URL.Query().Get("matchers"), Duration: "2h"}
	s.render(w, r, http.StatusOK, "alerts", page{Title: "Alerts", Nav: "alerts"}, body)
}

// apiAlerts is GET /api/alerts: {"alerts": [...], "silences": [...]}, as
// the page shows them (receivers and silence states added).
func (s *Server) apiAlerts(w http.ResponseWriter, r *http.Request) {
	body := s.loadAlerts(r.Context())
	if body.Err != "" {
		s.auth.fail(w, r, http.StatusBadGateway, body.Err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": append(body.Firing, body.Resolved...), "silences": body.Silences})
}

// silence adds a silence (form: matchers one a line, duration, comment),
// made by the signed-in user. Operators only (see Handler).
func (s *Server) silence(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r.Context())
	form := silenceForm{Matchers: r.PostFormValue("matchers"), Duration: strings.TrimSpace(r.PostFormValue("duration")),
		Comment: strings.TrimSpace(r.PostFormValue("comment"))}
	var ms []string
	for _, m := range strings.Split(form.Matchers, "\n") {
		if m = strings.TrimSpace(m); m != "" {
			ms = append(ms, m)
		}
	}
	problem := ""
	d, err := time.ParseDuration(form.Duration)
	switch {
	case len(ms) == 0:
		problem = `Give at least one matcher, one a line, e.g. alertname="outage_suspected".`
	case err != nil || d <= 0:
		problem = "Duration " + strconv.Quote(form.Duration) + ": want a positive duration such as 30m, 2h or 72h."
	case form.Comment == "":
		problem = "Say why in the comment, so the others know what is muted and until when it should be."
	}
	if problem == "" {
		sil, err := s.back.addSilence(r.Context(), SilenceRequest{Matchers: ms, Duration: form.Duration, CreatedBy: u.Name, Comment: form.Comment})
		var ref *Refusal
		switch {
		case errors.As(err, &ref):
			problem = "The alert-router refused the silence: " + ref.Message
		case err != nil:
			s.log.Error("console: silence failed", "user", u.Name, "matchers", ms, "err", err)
			s.auth.fail(w, r, http.StatusBadGateway, "Nothing was silenced: "+err.Error())
			return
		default:
			s.log.Info("console: silenced", "user", u.Name, "silence", sil.ID, "matchers", sil.Matchers, "ends_at", sil.EndsAt, "comment", sil.Comment)
			s.done(w, r, http.StatusCreated, "/alerts", fmt.Sprintf("Silence %s mutes %s until %s.", sil.ID, strings.Join(sil.Matchers, ", "), fmtTime(sil.EndsAt)), sil)
			return
		}
	}
	if apiClient(r) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": problem})
		return
	}
	body := s.loadAlerts(r.Context())
	body.Operator, body.Form, body.FormErr = true, form, problem
	s.render(w, r, http.StatusBadRequest, "alerts", page{Title: "Alerts", Nav: "alerts"}, body)
}

// expire ends a silence now. Operators only (see Handler).
func (s *Server) expire(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r.Context())
	id := chi.URLParam(r, "id")
	sil, err := s.back.expireSilence(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		s.auth.fail(w, r, http.StatusNotFound, "The alert-router has no silence "+id+" (expired silences are forgotten after a day).")
		return
	case err != nil:
		s.log.Error("console: expiring a silence failed", "user", u.Name, "silence", id, "err", err)
		s.auth.fail(w, r, http.StatusBadGateway, "The silence was not expired: "+err.Error())
		return
	}
	s.log.Info("console: expired a silence", "user", u.Name, "silence", id, "matchers", sil.Matchers)
	s.done(w, r, http.StatusOK, "/alerts", "Silence "+id+" expired: "+strings.Join(sil.Matchers, ", ")+" alert again.", sil)
}

// matchersOf is the matchers of a silence of the alert with labels, one a
// line, for the form: the labels that name it, not its type, source and
// severity (its alertname implies them) nor numbers, which change from one
// raising event to the next and would slip out of the silence.
func matchersOf(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		v := labels[k]
		if _, err := strconv.ParseFloat(v, 64); err == nil || k == "type" || k == "source" || k == "severity" {
			continue
		}
		b.WriteString(k + "=" + strconv.Quote(v) + "\n")
	}
	return b.String()
}
