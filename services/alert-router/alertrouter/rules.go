package alertrouter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/watershed-grid/watershed/contracts/events"
)

// RulesFile is the YAML rules file (ALERT_RULES_FILE). Every section is
// optional; unknown keys are errors. See the README for a full example.
type RulesFile struct {
	// Defaults keeps the built-in alerts and inhibition (DefaultAlerts,
	// DefaultInhibit). Default true. An alert of the file with a built-in's
	// name replaces it.
	Defaults *bool `yaml:"defaults"`
	// Alerts say which events raise and resolve alerts. Their types, and
	// those of their resolvers, are what the service subscribes to.
	Alerts []AlertSpec `yaml:"alerts"`
	// Receivers are where notifications go.
	Receivers []ReceiverSpec `yaml:"receivers"`
	// Routes are tried in order; the first that matches takes the alert
	// unless it says continue: true.
	Routes []RouteSpec `yaml:"routes"`
	// Inhibit rules mute target alerts while a source alert fires.
	Inhibit []InhibitSpec `yaml:"inhibit"`
}

// AlertSpec turns events of one type into alerts.
type AlertSpec struct {
	// Name is the alert's name, its alertname label: lower case, digits, '_'.
	Name string `yaml:"name"`
	// Type is the event type (ce_type) that raises the alert.
	Type string `yaml:"type"`
	// When are matchers over the event's labels and data fields; the event
	// raises the alert only if all match (e.g. consecutive_missed>=3).
	When []string `yaml:"when"`
	// Key are the data fields that identify one alert: events with the same
	// values are the same alert (de-duplicated). Empty: one alert per name.
	Key []string `yaml:"key"`
	// Labels are further data fields copied to the alert's labels, for
	// routes, grouping, inhibition and silences.
	Labels []string `yaml:"labels"`
	// Severity label: critical, warning or info. Default warning.
	Severity string `yaml:"severity"`
	// Summary is a one-line text; {label} is replaced by the label's value.
	Summary string `yaml:"summary"`
	// ResolvedBy names the event that resolves the alert, if any.
	ResolvedBy *ResolverSpec `yaml:"resolved_by"`
	// ResolveAfter resolves a firing alert no event has raised again for
	// this long (service clock). 0: only ResolvedBy resolves it.
	ResolveAfter Duration `yaml:"resolve_after"`
}

// ResolverSpec is the event that resolves an alert.
type ResolverSpec struct {
	// Type is the resolving event type.
	Type string `yaml:"type"`
	// On are the data fields whose values must equal the alert's labels of
	// the same name (they must be among the alert's key or labels).
	On []string `yaml:"on"`
	// When are matchers the resolving event must satisfy.
	When []string `yaml:"when"`
}

// ReceiverSpec is one destination; exactly one of Webhook, Slack, Email.
type ReceiverSpec struct {
	Name    string       `yaml:"name"`
	Webhook *WebhookSpec `yaml:"webhook"`
	Slack   *SlackSpec   `yaml:"slack"`
	Email   *EmailSpec   `yaml:"email"`
}

// WebhookSpec posts the notification as JSON, signed with HMAC-SHA256 when
// a secret is set.
type WebhookSpec struct {
	// URL, or URLEnv: the variable that holds it.
	URL    string `yaml:"url"`
	URLEnv string `yaml:"url_env"`
	// SecretEnv names the variable holding the HMAC key (never the key itself).
	SecretEnv string `yaml:"secret_env"`
}

// SlackSpec posts a Slack-compatible incoming-webhook body.
type SlackSpec struct {
	URL      string `yaml:"url"`
	URLEnv   string `yaml:"url_env"`
	Channel  string `yaml:"channel"`
	Username string `yaml:"username"`
}

// EmailSpec sends a plain-text mail over SMTP. Empty fields take
// ALERT_SMTP_ADDR, ALERT_SMTP_FROM, ALERT_SMTP_USERNAME, ALERT_SMTP_PASSWORD.
type EmailSpec struct {
	To          []string `yaml:"to"`
	From        string   `yaml:"from"`
	Smarthost   string   `yaml:"smarthost"`
	UsernameEnv string   `yaml:"username_env"`
	PasswordEnv string   `yaml:"password_env"`
}

// RouteSpec sends matching alerts to receivers, grouped.
type RouteSpec struct {
	Name      string   `yaml:"name"`
	Match     []string `yaml:"match"`
	Receivers []string `yaml:"receivers"`
	// GroupBy labels: one notification per distinct combination. Default
	// [alertname]; [...] puts every alert of the route in one group.
	GroupBy []string `yaml:"group_by"`
	// GroupWait, GroupInterval, RepeatInterval default to ALERT_GROUP_WAIT,
	// ALERT_GROUP_INTERVAL, ALERT_REPEAT_INTERVAL.
	GroupWait      Duration `yaml:"group_wait"`
	GroupInterval  Duration `yaml:"group_interval"`
	RepeatInterval Duration `yaml:"repeat_interval"`
	Continue       bool     `yaml:"continue"`
}

// InhibitSpec mutes alerts matching Target while an alert matching Source
// fires with the same values of the Equal labels.
type InhibitSpec struct {
	Source []string `yaml:"source"`
	Target []string `yaml:"target"`
	Equal  []string `yaml:"equal"`
}

// Duration is a time.Duration written as "90s", "5m", "4h".
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 30s, 5m or 4h", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Names of the built-in alerts.
const (
	AlertOutage        = "outage_suspected"
	AlertServiceDown   = "service_down"
	AlertClockSkew     = "clock_skew"
	AlertMeterSilent   = "meter_silent"
	AlertDLQGrowing    = "dlq_growing"
	AlertCommandFailed = "command_failed"
	AlertUnusualUsage  = "unusual_usage"
)

// DefaultAlerts are the built-in alerts (RulesFile.Defaults). dlq_growing
// is raised by the DLQ watch (ALERT_DLQ_*), not by an event.
func DefaultAlerts() []AlertSpec {
	return []AlertSpec{
		{Name: AlertOutage, Type: events.TypeOutageSuspected, Key: []string{"outage_id"},
			Labels: []string{"transformer_id", "feeder_id"}, Severity: "critical",
			Summary:    "suspected outage on transformer {transformer_id} (feeder {feeder_id})",
			ResolvedBy: &ResolverSpec{Type: events.TypeOutageRestored, On: []string{"outage_id"}}},
		{Name: AlertServiceDown, Type: events.TypeServiceDown, Key: []string{"service", "instance"},
			Severity: "critical", Summary: "service {service} (instance {instance}) stopped heartbeating",
			ResolvedBy: &ResolverSpec{Type: events.TypeServiceUp, On: []string{"service"}}},
		{Name: AlertClockSkew, Type: events.TypeClockSkew, Key: []string{"data.source"},
			Labels: []string{"data.offset_s"}, Severity: "warning",
			Summary: "clock of {data.source} is off by {data.offset_s} s", ResolveAfter: Duration(time.Hour)},
		{Name: AlertMeterSilent, Type: events.TypeMeterReadingMissed, When: []string{"consecutive_missed>=3"},
			Key: []string{"meter_id"}, Labels: []string{"transformer_id", "feeder_id"}, Severity: "warning",
			Summary:      "meter {meter_id} (transformer {transformer_id}) missed 3 or more reads in a row",
			ResolvedBy:   &ResolverSpec{Type: events.TypeMeterReadingLate, On: []string{"meter_id"}},
			ResolveAfter: Duration(6 * time.Hour)},
		{Name: AlertCommandFailed, Type: events.TypeMeterCommandOutcome, When: []string{`outcome="failed"`},
			Key: []string{"command_id"}, Labels: []string{"meter_id", "data.reason"}, Severity: "warning",
			Summary: "command {command_id} to meter {meter_id} failed: {data.reason}", ResolveAfter: Duration(6 * time.Hour)},
		{Name: AlertUnusualUsage, Type: events.TypeUsageUnusual, Key: []string{"meter_id", "start"},
			Labels: []string{"transformer_id", "feeder_id"}, Severity: "info",
			Summary:      "meter {meter_id} used {energy_kwh} kWh on the day from {start}, {ratio} times its usual {baseline_kwh} kWh",
			ResolveAfter: Duration(24 * time.Hour)},
		{Name: AlertDLQGrowing, Severity: "warning", Key: []string{"topic"},
			Summary: "dead-letter topic {topic} is growing: {letters} new letters"},
	}
}

// DefaultInhibit: an outage mutes the silent-meter alerts of its transformer.
func DefaultInhibit() []InhibitSpec {
	return []InhibitSpec{{
		Source: []string{`alertname="` + AlertOutage + `"`},
		Target: []string{`alertname="` + AlertMeterSilent + `"`},
		Equal:  []string{"transformer_id"},
	}}
}

// attribute labels come from the envelope, not the data.
var attributeLabels = []string{"alertname", "type", "source", "subject", "severity"}

func isAttribute(name string) bool { return slices.Contains(attributeLabels, name) }

// canon returns the canonical label names of names (see canonical).
func canon(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if n == "..." {
			out[i] = n
			continue
		}
		out[i] = canonical(n)
	}
	return out
}

// LabelForPath is the label name of a payload path: the path, or
// "data.<path>" when it is also an attribute's name (type, source, ...).
func LabelForPath(p string) string {
	if isAttribute(p) {
		return "data." + p
	}
	return p
}

// dataPath is the payload path of a label name ("data.x" → "x"), or "" for
// an attribute.
func dataPath(name string) string {
	if isAttribute(name) {
		return ""
	}
	return strings.TrimPrefix(name, "data.")
}

var (
	alertNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	typeRE      = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+\.v[0-9]+$`)
)

// Kind is a compiled AlertSpec.
type Kind struct {
	AlertSpec
	when, resolveWhen []Matcher
}

// Route is a compiled RouteSpec.
type Route struct {
	RouteSpec
	match []Matcher
}

// Inhibit is a compiled InhibitSpec.
type Inhibit struct {
	InhibitSpec
	source, target []Matcher
}

// Rules are the compiled rules: what to subscribe to, how events become
// alerts, where they go.
type Rules struct {
	Kinds     []*Kind
	Receivers []ReceiverSpec
	Routes    []*Route
	Inhibits  []*Inhibit

	raise   map[string][]*Kind // event type → kinds it raises
	resolve map[string][]*Kind // event type → kinds it resolves
	kinds   map[string]*Kind
}

// LoadRules reads and compiles the rules file at path ("" for the
// defaults alone) with cfg's default route and route timings. The error
// names the file, the entry and what to fix.
func LoadRules(path string, cfg Config) (*Rules, error) {
	var f RulesFile
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("ALERT_RULES_FILE: %w", err)
		}
		if err := decodeStrict(b, &f); err != nil {
			return nil, fmt.Errorf("ALERT_RULES_FILE %s: %w", path, err)
		}
	}
	r, err := CompileRules(f, cfg)
	if err != nil && path != "" {
		return nil, fmt.Errorf("ALERT_RULES_FILE %s: %w", path, err)
	}
	return r, err
}

// ParseRules compiles rules from YAML text.
func ParseRules(b []byte, cfg Config) (*Rules, error) {
	var f RulesFile
	if err := decodeStrict(b, &f); err != nil {
		return nil, err
	}
	return CompileRules(f, cfg)
}

func decodeStrict(b []byte, f *RulesFile) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file is fine: the defaults alone.
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("not a valid rules file: %w", err)
	}
	return nil
}

// CompileRules validates f and fills in defaults; cfg adds the default
// webhook route (ALERT_WEBHOOK_URL) and the route timing defaults.
func CompileRules(f RulesFile, cfg Config) (*Rules, error) {
	cfg = cfg.withDefaults()
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	specs := f.Alerts
	if f.Defaults == nil || *f.Defaults {
		for _, d := range DefaultAlerts() {
			if !slices.ContainsFunc(specs, func(a AlertSpec) bool { return a.Name == d.Name }) {
				specs = append(specs, d)
			}
		}
	}
	r := &Rules{raise: map[string][]*Kind{}, resolve: map[string][]*Kind{}, kinds: map[string]*Kind{}}
	for i, a := range specs {
		at := fmt.Sprintf("alerts[%d] (%s)", i, a.Name)
		if !alertNameRE.MatchString(a.Name) {
			bad("%s: name %q: use lower-case letters, digits and '_', e.g. command_failed", at, a.Name)
		}
		if _, dup := r.kinds[a.Name]; dup {
			bad("%s: name %q is used twice", at, a.Name)
		}
		if a.Type != "" && !typeRE.MatchString(a.Type) {
			bad("%s: type %q is not an event type such as outage.suspected.v1", at, a.Type)
		}
		if a.Type == "" && a.Name != AlertDLQGrowing {
			bad("%s: type is missing: the event type that raises the alert", at)
		}
		switch a.Severity {
		case "":
			a.Severity = "warning"
		case "critical", "warning", "info":
		default:
			bad("%s: severity %q: want critical, warning or info", at, a.Severity)
		}
		a.Key, a.Labels = canon(a.Key), canon(a.Labels)
		if a.ResolvedBy != nil {
			rb := *a.ResolvedBy
			rb.On = canon(rb.On)
			a.ResolvedBy = &rb
		}
		k := &Kind{AlertSpec: a}
		var err error
		if k.when, err = ParseMatchers(a.When); err != nil {
			bad("%s: when: %v", at, err)
		}
		k.when = canonicalMatchers(k.when)
		for _, l := range append(slices.Clone(a.Key), a.Labels...) {
			if !validLabelName(l) || isAttribute(l) {
				bad("%s: field %q: name a data field (e.g. transformer_id, evidence.power_fail); the attributes %v are labels already", at, l, attributeLabels)
			}
		}
		if rb := a.ResolvedBy; rb != nil {
			if !typeRE.MatchString(rb.Type) {
				bad("%s: resolved_by.type %q is not an event type such as outage.restored.v1", at, rb.Type)
			}
			if len(rb.On) == 0 {
				bad("%s: resolved_by.on is empty: name the fields the resolving event shares with the alert (e.g. [outage_id])", at)
			}
			for _, o := range rb.On {
				if !slices.Contains(a.Key, o) && !slices.Contains(a.Labels, o) {
					bad("%s: resolved_by.on %q must be one of the alert's key or labels %v", at, o, append(slices.Clone(a.Key), a.Labels...))
				}
			}
			if k.resolveWhen, err = ParseMatchers(rb.When); err != nil {
				bad("%s: resolved_by.when: %v", at, err)
			}
			k.resolveWhen = canonicalMatchers(k.resolveWhen)
		}
		r.kinds[a.Name] = k
		r.Kinds = append(r.Kinds, k)
		if a.Type != "" {
			r.raise[a.Type] = append(r.raise[a.Type], k)
		}
		if a.ResolvedBy != nil {
			r.resolve[a.ResolvedBy.Type] = append(r.resolve[a.ResolvedBy.Type], k)
		}
	}

	receivers := slices.Clone(f.Receivers)
	routes := slices.Clone(f.Routes)
	if cfg.WebhookURL != "" {
		receivers = append([]ReceiverSpec{{Name: DefaultReceiver, Webhook: &WebhookSpec{URL: cfg.WebhookURL, SecretEnv: EnvWebhookSecret}}}, receivers...)
		routes = append([]RouteSpec{{Name: DefaultReceiver, Receivers: []string{DefaultReceiver}, Continue: true}}, routes...)
	}
	names := map[string]bool{}
	for i, rc := range receivers {
		at := fmt.Sprintf("receivers[%d] (%s)", i, rc.Name)
		if rc.Name == "" {
			bad("%s: name is missing", at)
		}
		if names[rc.Name] {
			bad("%s: name %q is used twice", at, rc.Name)
		}
		names[rc.Name] = true
		n := 0
		if rc.Webhook != nil {
			n++
			if rc.Webhook.URL == "" && rc.Webhook.URLEnv == "" {
				bad("%s: webhook: set url or url_env", at)
			}
		}
		if rc.Slack != nil {
			n++
			if rc.Slack.URL == "" && rc.Slack.URLEnv == "" {
				bad("%s: slack: set url or url_env", at)
			}
		}
		if rc.Email != nil {
			n++
			if len(rc.Email.To) == 0 {
				bad("%s: email: to is empty", at)
			}
			if rc.Email.Smarthost == "" && cfg.SMTPAddr == "" {
				bad("%s: email: set smarthost (host:port) or ALERT_SMTP_ADDR", at)
			}
		}
		if n != 1 {
			bad("%s: give exactly one of webhook, slack, email (has %d)", at, n)
		}
	}
	r.Receivers = receivers
	for i, rt := range routes {
		at := fmt.Sprintf("routes[%d] (%s)", i, rt.Name)
		m, err := ParseMatchers(rt.Match)
		if err != nil {
			bad("%s: match: %v", at, err)
		}
		if len(rt.Receivers) == 0 {
			bad("%s: receivers is empty", at)
		}
		for _, n := range rt.Receivers {
			if !names[n] {
				bad("%s: unknown receiver %q (receivers: %s)", at, n, strings.Join(sortedKeys(names), ", "))
			}
		}
		if rt.Name == "" {
			rt.Name = fmt.Sprintf("route-%d", i)
		}
		if len(rt.GroupBy) == 0 {
			rt.GroupBy = []string{"alertname"}
		}
		rt.GroupBy = canon(rt.GroupBy)
		m = canonicalMatchers(m)
		for _, g := range rt.GroupBy {
			if g != "..." && !validLabelName(g) {
				bad("%s: group_by %q is not a label name", at, g)
			}
		}
		if rt.GroupWait == 0 {
			rt.GroupWait = Duration(cfg.GroupWait)
		}
		if rt.GroupInterval == 0 {
			rt.GroupInterval = Duration(cfg.GroupInterval)
		}
		if rt.RepeatInterval == 0 {
			rt.RepeatInterval = Duration(cfg.RepeatInterval)
		}
		r.Routes = append(r.Routes, &Route{RouteSpec: rt, match: m})
	}
	inh := slices.Clone(f.Inhibit)
	if f.Defaults == nil || *f.Defaults {
		inh = append(inh, DefaultInhibit()...)
	}
	for i, in := range inh {
		at := fmt.Sprintf("inhibit[%d]", i)
		s, err1 := ParseMatchers(in.Source)
		t, err2 := ParseMatchers(in.Target)
		if err := errors.Join(err1, err2); err != nil {
			bad("%s: %v", at, err)
		}
		if len(s) == 0 || len(t) == 0 {
			bad("%s: source and target need at least one matcher each", at)
		}
		in.Equal = canon(in.Equal)
		r.Inhibits = append(r.Inhibits, &Inhibit{InhibitSpec: in, source: canonicalMatchers(s), target: canonicalMatchers(t)})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d problem(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	return r, nil
}

// Types returns the event types the rules subscribe to: the types that
// raise alerts and those that resolve them, sorted.
func (r *Rules) Types() []string {
	set := map[string]bool{}
	for t := range r.raise {
		set[t] = true
	}
	for t := range r.resolve {
		set[t] = true
	}
	return sortedKeys(set)
}

// UnknownTypes returns the subscribed types the contracts catalog does not
// know yet (a producer to come, such as a command outcome).
func (r *Rules) UnknownTypes() []string {
	var out []string
	for _, t := range r.Types() {
		if !slices.Contains(events.Types(), t) {
			out = append(out, t)
		}
	}
	return out
}

// Paths returns the data paths a handler of typ reads: every field the
// alerts of that type name, and every label the routes, inhibitions and
// groupings name (optional: events without them are still alerts).
func (r *Rules) Paths(typ string) []string {
	set := map[string]bool{}
	add := func(names ...string) {
		for _, n := range names {
			if p := dataPath(n); p != "" && n != "..." {
				set[p] = true
			}
		}
	}
	matcherNames := func(ms []Matcher) {
		for _, m := range ms {
			add(m.Name)
		}
	}
	for _, k := range r.raise[typ] {
		add(k.Key...)
		add(k.Labels...)
		matcherNames(k.when)
		for _, rt := range r.Routes {
			matcherNames(rt.match)
			add(rt.GroupBy...)
		}
		for _, in := range r.Inhibits {
			matcherNames(in.source)
			matcherNames(in.target)
			add(in.Equal...)
		}
	}
	for _, k := range r.resolve[typ] {
		add(k.ResolvedBy.On...)
		matcherNames(k.resolveWhen)
	}
	return sortedKeys(set)
}

// Kind returns the alert kind of that name.
func (r *Rules) Kind(name string) (*Kind, bool) { k, ok := r.kinds[name]; return k, ok }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
