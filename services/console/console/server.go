package console

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/watershed-grid/watershed/rivers/deadletter"
)

//go:embed web
var webFS embed.FS

// streamMax bounds one server-sent event stream: the browser reconnects
// (with Last-Event-ID, so it misses nothing the ring still holds), and a
// stopping service is not held up by open streams.
const streamMax = time.Minute

// Server serves the console's pages. Make it with [NewServer].
type Server struct {
	cfg     Config
	auth    *auth
	limit   *signinLimit
	ring    *Ring
	grid    *Grid
	letters DeadLetters
	back    *backends
	pages   map[string]*template.Template
	log     *slog.Logger
	now     func() time.Time
}

// NewServer returns the console's pages over ring and grid (fed by
// [Watch]) and letters.
func NewServer(cfg Config, ring *Ring, grid *Grid, letters DeadLetters) *Server {
	s := &Server{cfg: cfg, auth: newAuth(cfg), limit: newSigninLimit(cfg.SigninFailures, cfg.SigninWait), ring: ring, grid: grid, letters: letters, back: newBackends(cfg),
		log: slog.Default(), now: time.Now, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"ago":  s.ago,
		"when": func(t time.Time) string { return fmtTime(t) },
		"join": strings.Join,
		"kw":   func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"pct":  func(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" },
		// query's output is already encoded: a URL's query, not a value in it
		"query": func(v ...string) template.URL { return template.URL(query(v...)) },
		"labels": func(m map[string]string) [][2]string {
			var out [][2]string
			for _, k := range slices.Sorted(maps.Keys(m)) {
				out = append(out, [2]string{k, m[k]})
			}
			return out
		},
		"matchers": matchersOf,
	}
	for _, p := range []string{"login", "error", "services", "live", "dlq", "letter", "grid", "alerts"} {
		s.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", "web/templates/"+p+".html"))
	}
	s.auth.fail = func(w http.ResponseWriter, r *http.Request, code int, msg string) {
		if apiClient(r) {
			writeJSON(w, code, map[string]string{"error": msg})
			return
		}
		s.render(w, r, code, "error", page{Title: http.StatusText(code)}, errorPage{Code: code, Message: msg})
	}
	return s
}

// Handler returns the console's routes.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders, s.auth.protect)
	static, _ := fs.Sub(webFS, "web/static")
	r.Handle("/static/*", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	r.Get("/login", s.loginPage)
	r.Post("/login", s.login)
	r.Post("/logout", s.logout)
	viewer := func(h http.HandlerFunc) http.Handler { return s.auth.require("", h) }
	operator := func(h http.HandlerFunc) http.Handler { return s.auth.require(RoleOperator, h) }
	r.Method(http.MethodGet, "/", viewer(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/services", http.StatusSeeOther)
	}))
	r.Method(http.MethodGet, "/services", viewer(s.services))
	r.Method(http.MethodGet, "/live", viewer(s.live))
	r.Method(http.MethodGet, "/live/stream", viewer(s.stream))
	r.Method(http.MethodGet, "/dlq", viewer(s.dlq))
	r.Method(http.MethodGet, "/dlq/letter", viewer(s.letter))
	r.Method(http.MethodPost, "/dlq/replay", operator(s.replay))
	r.Method(http.MethodGet, "/grid", viewer(s.gridPage))
	r.Method(http.MethodGet, "/alerts", viewer(s.alertsPage))
	r.Method(http.MethodPost, "/alerts/silences", operator(s.silence))
	r.Method(http.MethodPost, "/alerts/silences/{id}/expire", operator(s.expire))
	r.Method(http.MethodGet, "/api/alerts", viewer(s.apiAlerts))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.auth.fail(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	return r
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

// page is what the layout needs.
type page struct {
	Title  string
	Nav    string // the active tab
	User   User
	CSRF   string
	Notice string // a message after an action (?msg=)
	Body   any
}

type errorPage struct {
	Code    int
	Message string
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, p page, body any) {
	p.CSRF = s.auth.csrfToken(w, r)
	if u, ok := s.auth.user(r); ok {
		p.User = u
	}
	if p.Notice == "" {
		p.Notice = r.URL.Query().Get("msg")
	}
	p.Body = body
	var b strings.Builder
	if err := s.pages[name].Execute(&b, p); err != nil {
		s.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "the page could not be drawn: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}

// ---- sign-in

type loginBody struct {
	Next  string
	Name  string
	Error string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", page{Title: "Sign in"}, loginBody{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	name, pw, next := r.PostFormValue("name"), r.PostFormValue("password"), safeNext(r.PostFormValue("next"))
	addr := clientAddr(r)
	if wait := s.limit.attempt(s.auth.now(), addr, name); wait > 0 {
		secs := retryAfter(wait)
		s.log.Warn("console: sign-in refused: too many failures", "user", name, "remote", addr, "retry_after_s", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.render(w, r, http.StatusTooManyRequests, "login", page{Title: "Sign in"}, loginBody{Next: next, Name: name,
			Error: fmt.Sprintf("Too many failed sign-ins for this name or from your address: try again in %d s.", secs)})
		return
	}
	u, ok := s.auth.check(name, pw)
	if !ok {
		s.log.Warn("console: sign-in refused", "user", name, "remote", addr)
		s.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in"},
			loginBody{Next: next, Name: name, Error: "That name and password do not match a console user."})
		return
	}
	s.limit.succeeded(addr, name)
	s.log.Info("console: signed in", "user", u.Name, "role", u.Role)
	s.auth.setSession(w, u)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.auth.clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// ---- services

type servicesBody struct {
	Services    []serviceRow
	Types       []typeRow
	Graph       graph
	Lagging     bool
	RegistryErr string
	DemandErr   string
	Retirements []RetirementNote
	Health      []HealthNote
}

type serviceRow struct {
	Name      string
	Instances int
	Versions  []RegVersion
	Status    string // ok, late, lagging
	Detail    string
}

type typeRow struct {
	Type      string
	Producers []string
	Consumers []RegConsumer
	Active    int
	State     string
	Since     time.Time
	RetiredBy []string
	Reason    string
}

func (s *Server) services(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var body servicesBody
	svcs, err := s.back.services(ctx)
	if err != nil {
		body.RegistryErr = err.Error()
	}
	types, err := s.back.types(ctx)
	if err != nil && body.RegistryErr == "" {
		body.RegistryErr = err.Error()
	}
	demand, err := s.back.demandReport(ctx)
	if err != nil {
		body.DemandErr = err.Error()
	}
	body.Lagging = demand.Lagging
	body.Retirements, body.Health = s.grid.Notes()
	now := s.now()
	for _, sv := range svcs {
		row := serviceRow{Name: sv.Name, Instances: sv.Instances, Versions: sv.Versions, Status: "ok"}
		for _, v := range sv.Versions {
			for _, in := range v.Instances {
				switch {
				case !in.LastSeen.IsZero() && now.Sub(in.LastSeen) > 20*time.Second:
					row.Status, row.Detail = "late", "no heartbeat for "+s.ago(in.LastSeen)
				case in.Lag > 10000 && row.Status == "ok":
					row.Status, row.Detail = "lagging", strconv.FormatInt(in.Lag, 10)+" records behind"
				}
			}
		}
		body.Services = append(body.Services, row)
	}
	reasons := map[string]string{}
	for _, n := range slices.Backward(body.Retirements) { // oldest first: the newest reason wins
		reasons[n.EventType] = n.Phase + ": " + n.Reason
	}
	states := map[string]DemandStatus{}
	for _, d := range demand.Types {
		states[d.Type] = d
	}
	for _, t := range types {
		row := typeRow{Type: t.Type, Consumers: t.Consumers, Active: t.Active, RetiredBy: t.RetiredBy, Reason: reasons[t.Type]}
		for _, p := range t.Producers {
			row.Producers = append(row.Producers, p.Service+"@"+p.Version)
		}
		if d, ok := states[t.Type]; ok {
			row.State, row.Since = d.State, d.Since
			if len(row.RetiredBy) == 0 {
				row.RetiredBy = d.RetiredBy
			}
			delete(states, t.Type)
		}
		body.Types = append(body.Types, row)
	}
	for _, d := range states { // retired types no live producer lists any more
		body.Types = append(body.Types, typeRow{Type: d.Type, State: d.State, Since: d.Since, RetiredBy: d.RetiredBy, Producers: d.Producers, Reason: reasons[d.Type]})
	}
	slices.SortFunc(body.Types, func(a, b typeRow) int { return cmp.Compare(a.Type, b.Type) })
	body.Graph = buildGraph(body.Types)
	s.render(w, r, http.StatusOK, "services", page{Title: "Services", Nav: "services"}, body)
}

// ---- live

type liveBody struct {
	Filter LiveFilter
	Events []LiveEvent
	Stream string // the stream's URL
}

func liveFilter(r *http.Request) LiveFilter {
	q := r.URL.Query()
	return LiveFilter{Type: strings.TrimSpace(q.Get("type")), Text: strings.TrimSpace(q.Get("q")), System: q.Get("system") == "on"}
}

func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	f := liveFilter(r)
	seq := s.ring.Seq()
	evs := s.ring.Recent(f)
	slices.Reverse(evs)
	if len(evs) > 200 {
		evs = evs[:200]
	}
	sys := ""
	if f.System {
		sys = "on"
	}
	s.render(w, r, http.StatusOK, "live", page{Title: "Rivers live", Nav: "live"},
		liveBody{Filter: f, Events: evs, Stream: "/live/stream?" + query("type", f.Type, "q", f.Text, "system", sys, "after", strconv.FormatUint(seq, 10))})
}

// stream serves new events passing the filter as server-sent events
// ("event: ev", data: a LiveEvent as JSON, id: its sequence number). Given
// Last-Event-ID (a reconnecting browser) or ?after= (the page, with the
// ring's sequence number when it was drawn), it first sends what the ring
// holds after it, so nothing between the page and the stream is lost.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	f := liveFilter(r)
	from := cmp.Or(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after"))
	after, _ := strconv.ParseUint(from, 10, 64)
	c, stop := s.ring.Subscribe()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	send := func(e LiveEvent) {
		if e.Seq <= after || !f.Match(e) {
			return
		}
		after = e.Seq
		b, _ := json.Marshal(e)
		_, _ = fmt.Fprintf(w, "id: %d\nevent: ev\ndata: %s\n\n", e.Seq, b)
	}
	if from != "" {
		for _, e := range s.ring.Recent(f) {
			send(e)
		}
	}
	fl.Flush()
	ctx, cancel := context.WithTimeout(r.Context(), streamMax)
	defer cancel()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-c:
			send(e)
			fl.Flush()
		case <-ping.C:
			_, _ = fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		}
	}
}

// ---- dead letters

type dlqBody struct {
	Type, Error string
	Counts      []deadletter.Count
	Letters     []letterRow
	Total       int
	Shown       int
	Limit       int
	Err         string
	Operator    bool
	Replayable  int
}

type letterRow struct {
	deadletter.Letter
	Skip string // why a replay would leave it alone; "" when it would replay it
}

const dlqShown = 200

func (s *Server) readLetters(ctx context.Context) ([]deadletter.Letter, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second+s.cfg.DLQReadIdle)
	defer cancel()
	return s.letters.Read(ctx)
}

func (s *Server) dlq(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	body := dlqBody{Type: q.Get("type"), Error: q.Get("error"), Limit: s.cfg.ReplayLimit, Operator: currentUser(r.Context()).Role == RoleOperator}
	all, err := s.readLetters(r.Context())
	if err != nil {
		body.Err = "The dead-letter topics could not be read: " + err.Error()
		s.render(w, r, http.StatusOK, "dlq", page{Title: "Dead letters", Nav: "dlq"}, body)
		return
	}
	body.Counts = deadletter.Summarize(all)
	f := deadletter.Filter{Type: body.Type, Error: body.Error}
	sel := deadletter.Select(all, f)
	body.Total = len(sel)
	plan := deadletter.PlanReplay(all, f, s.cfg.ReplayLimit)
	skips := skipReasons(plan)
	body.Replayable = len(plan.Replay)
	replays := map[string]int{} // an event's replay count: its letters' and markers' highest
	for _, l := range all {
		replays[l.Identity] = max(replays[l.Identity], l.Replays)
	}
	slices.Reverse(sel) // newest first
	for _, l := range sel[:min(len(sel), dlqShown)] {
		l.Replays = replays[l.Identity]
		body.Letters = append(body.Letters, letterRow{Letter: l, Skip: skips[letterKey(l)]})
	}
	body.Shown = len(body.Letters)
	s.render(w, r, http.StatusOK, "dlq", page{Title: "Dead letters", Nav: "dlq"}, body)
}

func letterKey(l deadletter.Letter) string {
	return l.DLQTopic + "/" + strconv.Itoa(l.DLQPart) + "/" + strconv.FormatInt(l.DLQOffset, 10)
}

func skipReasons(p deadletter.Plan) map[string]string {
	m := map[string]string{}
	for _, sk := range p.Skip {
		m[letterKey(sk.Letter)] = sk.Reason
	}
	return m
}

type letterBody struct {
	Letter   deadletter.Letter
	Headers  [][2]string
	Data     string
	Skip     string
	Replays  int
	Limit    int
	Operator bool
	Err      string
}

func (s *Server) letter(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	topic := q.Get("topic")
	part, perr := strconv.Atoi(q.Get("partition"))
	off, oerr := strconv.ParseInt(q.Get("offset"), 10, 64)
	if topic == "" || perr != nil || oerr != nil {
		s.auth.fail(w, r, http.StatusBadRequest, "A letter is named by its dead-letter topic, partition and offset.")
		return
	}
	body := letterBody{Limit: s.cfg.ReplayLimit, Operator: currentUser(r.Context()).Role == RoleOperator}
	all, err := s.readLetters(r.Context())
	if err != nil {
		body.Err = "The dead-letter topics could not be read: " + err.Error()
		s.render(w, r, http.StatusOK, "letter", page{Title: "Dead letter", Nav: "dlq"}, body)
		return
	}
	i := slices.IndexFunc(all, func(l deadletter.Letter) bool {
		return !l.Marker && l.DLQTopic == topic && l.DLQPart == part && l.DLQOffset == off
	})
	if i < 0 {
		s.auth.fail(w, r, http.StatusNotFound, fmt.Sprintf("No dead letter at %s partition %d offset %d (the topic may have been compacted or its retention passed).", topic, part, off))
		return
	}
	l := all[i]
	body.Letter = l
	for _, h := range l.Record.Headers {
		body.Headers = append(body.Headers, [2]string{h.Key, string(h.Value)})
	}
	body.Data = prettyJSON(l.Data)
	plan := deadletter.PlanReplay(all, deadletter.Filter{}, s.cfg.ReplayLimit)
	body.Skip = skipReasons(plan)[letterKey(l)]
	for _, x := range all {
		if x.Identity == l.Identity {
			body.Replays = max(body.Replays, x.Replays)
		}
	}
	s.render(w, r, http.StatusOK, "letter", page{Title: "Dead letter", Nav: "dlq"}, body)
}

func prettyJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return s
	}
	return string(b)
}

// replay replays the letters of a type and error class, or one event (its
// identity), within the replay limit. Operators only (see Handler).
func (s *Server) replay(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r.Context())
	f := deadletter.Filter{Type: r.PostFormValue("type"), Error: r.PostFormValue("error")}
	identity := r.PostFormValue("identity")
	back := "/dlq?" + query("type", f.Type, "error", f.Error)
	if ret := safeNext(r.PostFormValue("back")); ret != "/" {
		back = ret
	}
	all, err := s.readLetters(r.Context())
	if err != nil {
		s.auth.fail(w, r, http.StatusBadGateway, "Nothing was replayed: the dead-letter topics could not be read: "+err.Error())
		return
	}
	plan := deadletter.PlanReplay(all, f, s.cfg.ReplayLimit)
	if identity != "" {
		plan.Replay = slices.DeleteFunc(plan.Replay, func(l deadletter.Letter) bool { return l.Identity != identity })
		plan.Skip = slices.DeleteFunc(plan.Skip, func(sk deadletter.Skip) bool { return sk.Letter.Identity != identity })
	}
	if len(plan.Replay) == 0 {
		msg := "Nothing to replay."
		if len(plan.Skip) > 0 {
			msg = "Nothing replayed: " + plan.Skip[0].Reason + "."
		}
		s.done(w, r, http.StatusOK, back, msg, map[string]any{"replayed": 0, "skipped": len(plan.Skip), "message": msg})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	n, err := s.letters.Replay(ctx, plan)
	if err != nil {
		s.log.Error("console: replay failed", "user", u.Name, "type", f.Type, "error_class", f.Error, "identity", identity, "err", err)
		s.auth.fail(w, r, http.StatusBadGateway, "The replay failed: "+err.Error())
		return
	}
	s.log.Info("console: replayed dead letters", "user", u.Name, "type", f.Type, "error_class", f.Error, "identity", identity,
		"replayed", n, "skipped", len(plan.Skip))
	msg := fmt.Sprintf("Replayed %d letter(s) to their origin topics; %d left alone (replay limit %d, or not replayable).", n, len(plan.Skip), s.cfg.ReplayLimit)
	s.done(w, r, http.StatusOK, back, msg, map[string]any{"replayed": n, "skipped": len(plan.Skip), "message": msg})
}

// done answers an action that succeeded: a browser is sent back to the
// page it came from with msg shown; an API client gets v as JSON.
func (s *Server) done(w http.ResponseWriter, r *http.Request, code int, back, msg string, v any) {
	if apiClient(r) {
		writeJSON(w, code, v)
		return
	}
	http.Redirect(w, r, withMsg(back, msg), http.StatusSeeOther)
}

// apiClient reports whether r wants JSON: it is under /api/ or carries a
// bearer token (a script, not a browser).
func apiClient(r *http.Request) bool {
	_, bearer := bearerToken(r)
	return bearer || strings.HasPrefix(r.URL.Path, "/api/")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func withMsg(u, msg string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "msg=" + url.QueryEscape(msg)
}

// ---- grid

type gridBody struct {
	Now, Past []Outage
	Feeders   []feederRow
	Meter     string
	Reading   *MeterReading
	MeterErr  string
}

type feederRow struct {
	Feeder
	Spark spark
}

func (s *Server) gridPage(w http.ResponseWriter, r *http.Request) {
	var body gridBody
	body.Now, body.Past = s.grid.Outages()
	for _, f := range s.grid.Feeders() {
		body.Feeders = append(body.Feeders, feederRow{Feeder: f, Spark: sparkline(f.Points, 240, 48)})
	}
	body.Meter = strings.TrimSpace(r.URL.Query().Get("meter"))
	if body.Meter != "" {
		rd, err := s.back.meter(r.Context(), body.Meter)
		switch {
		case errors.Is(err, ErrNotFound):
			body.MeterErr = "The hot pond has no reading of meter " + body.Meter + "."
		case err != nil:
			body.MeterErr = err.Error()
		default:
			body.Reading = &rd
		}
	}
	s.render(w, r, http.StatusOK, "grid", page{Title: "Grid", Nav: "grid"}, body)
}

// ---- helpers

func (s *Server) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := s.now().Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days ago"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// query encodes name, value pairs, leaving out empty values.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v.Encode()
}
