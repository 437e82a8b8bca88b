package ecosystem

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/deadletter"
	"github.com/watershed-grid/watershed/services/alert-router/alertrouter"
	"github.com/watershed-grid/watershed/services/console/console"
	"github.com/watershed-grid/watershed/services/demand-tracker/demandtracker"
	"github.com/watershed-grid/watershed/services/registry/registry"
	"golang.org/x/crypto/bcrypt"
)

// requireChromium returns the chromium of the browser tests
// (WATERSHED_TEST_CHROMIUM, which scripts/testenv/up.sh writes), or ends
// the test: Skip when it is unset, Fatal under CI=true.
func requireChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WATERSHED_TEST_CHROMIUM"); p != "" {
		return p
	}
	msg := "WATERSHED_TEST_CHROMIUM not set: no chromium for the browser tests (run scripts/testenv/up.sh, or apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestBrowserConsole drives Debian's chromium through the console of a
// running ecosystem (registry, demand tracker, alert-router, console on
// one broker): sign-in, the service map lists the running services, a
// live event appears, the grid shows its outage, the alerts page shows the
// alert it raised, a viewer is refused a replay and a silence, an operator
// replays a dead letter, which reaches its origin topic, and silences the
// alert, which the alert-router then lists as silenced by the operator.
// Screenshots of every page go to testdata/out/console/.
func TestBrowserConsole(t *testing.T) {
	chrome := requireChromium(t)
	shots := filepath.Join("testdata", "out", "console")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	log := testLogger(t)
	kcfg := testKafka(t, log)
	t.Setenv(alertrouter.EnvStore, alertrouter.StoreMemory) // not a Redis of REDIS_URL: alerts of other runs

	hash, err := bcrypt.GenerateFromPassword([]byte("pw-browser"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var eco atomic.Pointer[Ecosystem]
	members, err := Members(DevOptions{
		Addr: func(service string) string {
			for range 100 { // the ecosystem is stored right after it starts
				if e := eco.Load(); e != nil {
					for _, s := range e.Statuses() {
						if s.Name == service {
							return s.HTTPAddr
						}
					}
					return ""
				}
				time.Sleep(50 * time.Millisecond)
			}
			return ""
		},
		ConsoleUsers: []console.User{{Name: "olga", Role: console.RoleOperator, Hash: hash}, {Name: "vic", Role: console.RoleViewer, Hash: hash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := only(t, members, registry.Name, demandtracker.Name, alertrouter.Name, console.Name)
	for i := range ms {
		dev := ms[i].Configure // dev's control keys and trust list
		ms[i].Configure = func(c *rivers.Config) {
			if dev != nil {
				dev(c)
			}
			c.HeartbeatInterval = 500 * time.Millisecond
		}
	}
	r := startEcosystem(t, kcfg, log, ms)
	eco.Store(r.eco)
	r.waitReady(t, 90*time.Second)
	var base, alertsAPI string
	for _, s := range r.eco.Statuses() {
		switch s.Name {
		case console.Name:
			base = "http://" + s.HTTPAddr
		case alertrouter.Name:
			alertsAPI = "http://" + s.HTTPAddr
		}
	}

	// What reaches the rivers topic: the replayed letter must.
	var mu sync.Mutex
	seen := map[string]bool{}
	tap := startTap(t, kcfg, kcfg.Topics.Rivers, func(rec rapids.Record, _ time.Time) {
		mu.Lock()
		seen[header(rec, contracts.HeaderID)+"/"+header(rec, deadletter.HeaderReplayCount)] = true
		mu.Unlock()
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage:\n%s", what, err, body)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(name string) {
		t.Helper()
		run("sign in as "+name,
			chromedp.Navigate(base+"/services"),
			chromedp.WaitVisible(chromedp.ID("signin")),
			chromedp.SendKeys(chromedp.ID("name"), name),
			chromedp.SendKeys(chromedp.ID("password"), "pw-browser"),
			chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.CSS("form.who"))) // only signed-in pages have it
	}
	bodyText := func() string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return s
	}

	// Sign-in page, then the service map of the running services.
	run("login page", chromedp.Navigate(base+"/services"), chromedp.WaitVisible(chromedp.ID("signin")))
	shot("login")
	signIn("vic")
	deadline := time.Now().Add(60 * time.Second)
	for {
		run("service map", chromedp.Navigate(base+"/services"), chromedp.WaitVisible(chromedp.CSS("main h1")))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`["registry","demand-tracker","console"].filter(s => document.querySelector('#service-map tr[data-service="'+s+'"]')).length`))
		if err != nil {
			t.Fatal(err)
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service map lists %d of registry, demand-tracker, console:\n%s", n, bodyText())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(bodyText(), "system.heartbeat.v1") {
		t.Error("the demand graph does not list system.heartbeat.v1")
	}
	shot("services")

	// A live event appears without reloading the page.
	run("live page", chromedp.Navigate(base+"/live"), chromedp.WaitVisible(chromedp.ID("live-state")))
	waitText(t, ctx, "#live-state", "live", 20*time.Second)
	p, err := rapids.NewProducer(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	now := time.Now().UTC()
	publish(t, p, kcfg.Topics.Rivers, events.TypeOutageSuspected, "t-browser", events.OutageSuspected{
		OutageID: "o-browser", TransformerID: "t-browser", FeederID: "f-browser", MetersSilent: []string{"m-1", "m-2", "m-3"},
		MetersTotal: 4, SilentShare: 0.75, FirstSilentAt: now.Add(-5 * time.Minute), DetectedAt: now,
		Evidence: events.OutageEvidence{MissedReads: 3, WindowSeconds: 900, ThresholdShare: 0.5}})
	waitText(t, ctx, "#live tbody", "outage suspected on transformer t-browser", 30*time.Second)
	shot("live")

	// The grid shows the outage; the hot pond is not running: its message.
	run("grid", chromedp.Navigate(base+"/grid?meter=m-1"), chromedp.WaitVisible(chromedp.ID("outages-now")))
	if s := bodyText(); !strings.Contains(s, "t-browser") || !strings.Contains(s, "hot pond") {
		t.Errorf("grid page:\n%s", s)
	}
	shot("grid")

	// A dead letter: a viewer is refused its replay.
	letter := deadLetterRecord(t, kcfg.Topics.Rivers)
	if err := p.Publish(ctx, letter); err != nil {
		t.Fatal(err)
	}
	letterID := header(letter, contracts.HeaderID)
	run("dlq as viewer", chromedp.Navigate(base+"/dlq"), chromedp.WaitVisible(chromedp.ID("dlq-groups")))
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("replay-all").disabled`))
	if err != nil {
		t.Fatal(err)
	}
	if !disabled {
		t.Error("the viewer's replay button is enabled")
	}
	shot("dlq-viewer")
	run("forced replay as viewer",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(() => { const b = document.getElementById("replay-all"); b.disabled = false; b.click(); return true })()`)(ctx, tg)
			return err
		}),
		chromedp.WaitVisible(chromedp.ID("error-message")))
	if s := bodyText(); !strings.Contains(s, "needs the operator role") {
		t.Fatalf("viewer replay answered:\n%s", s)
	}
	shot("dlq-viewer-refused")

	// The outage raised an alert at the alert-router: the viewer sees it,
	// with no way to silence it, and is refused when posting anyway.
	waitAlert := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			run(what, chromedp.Navigate(base+"/alerts"), chromedp.WaitVisible(chromedp.CSS("main h1")))
			n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('#alerts-firing tr[data-alert="outage_suspected"]')].filter(r => r.textContent.includes("t-browser")).length`))
			if err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the alerts page does not show the outage of t-browser firing:\n%s", what, bodyText())
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	waitAlert("alerts as viewer")
	actions, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#silence-form, button.expire, a.silence-link").length`))
	if err != nil {
		t.Fatal(err)
	}
	if actions != 0 {
		t.Errorf("the viewer is shown %d silence forms, links or buttons", actions)
	}
	shot("alerts-viewer")
	run("forced silence as viewer",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// the form an operator would post, with the viewer's own CSRF token
			_, err := chromedp.Evaluate[bool](`(() => {
				const f = document.createElement("form");
				f.method = "post"; f.action = "/alerts/silences";
				for (const [k, v] of [["csrf", document.querySelector("form.who input[name=csrf]").value],
					["matchers", 'transformer_id="t-browser"'], ["duration", "1h"], ["comment", "viewer tries"]]) {
					const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
				}
				document.body.appendChild(f); f.submit(); return true })()`)(ctx, tg)
			return err
		}),
		chromedp.WaitVisible(chromedp.ID("error-message")))
	if s := bodyText(); !strings.Contains(s, "needs the operator role") {
		t.Fatalf("viewer silence answered:\n%s", s)
	}
	shot("alerts-viewer-refused")

	// An operator opens the letter and replays it.
	run("sign out", chromedp.Navigate(base+"/services"), chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.ID("signin")))
	signIn("olga")
	run("dlq as operator", chromedp.Navigate(base+"/dlq"), chromedp.WaitVisible(chromedp.ID("dlq-letters")))
	shot("dlq")
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("a.letter-link").href`))
	if err != nil {
		t.Fatal(err)
	}
	run("open the letter "+href, chromedp.Navigate(href), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if s := bodyText(); !strings.Contains(s, "Payload") {
		t.Fatalf("letter page %s:\n%s", href, s)
	}
	if s := bodyText(); !strings.Contains(s, letterID) || !strings.Contains(s, "permanent") {
		t.Errorf("letter page:\n%s", s)
	}
	shot("letter")
	run("replay it", chromedp.Click(chromedp.ID("replay-one")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if s := bodyText(); !strings.Contains(s, "Replayed 1 letter(s)") {
		t.Fatalf("after the replay:\n%s", s)
	}
	shot("dlq-replayed")
	tap.waitFor(t, 30*time.Second, "the replayed letter on the rivers", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return seen[letterID+"/1"], "event " + letterID + " with replay count 1"
	})

	// The operator silences the outage's alert from its row.
	waitAlert("alerts as operator")
	shot("alerts")
	href, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#alerts-firing tr[data-alert="outage_suspected"] a.silence-link').href`))
	if err != nil {
		t.Fatal(err)
	}
	run("the silence form of the alert", chromedp.Navigate(href), chromedp.WaitVisible(chromedp.ID("silence-create")))
	matchers, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("matchers")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(matchers, `alertname="outage_suspected"`) || !strings.Contains(matchers, `transformer_id="t-browser"`) {
		t.Fatalf("the form is filled with %q, want the alert's alertname and transformer_id", matchers)
	}
	run("silence the alert",
		chromedp.SendKeys(chromedp.ID("comment"), "crew on site at t-browser"),
		chromedp.Click(chromedp.ID("silence-create")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if s := bodyText(); !strings.Contains(s, "mutes") || !strings.Contains(s, `transformer_id="t-browser"`) {
		t.Fatalf("after the silence:\n%s", s)
	}
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#alerts-firing tr[data-alert="outage_suspected"] .badge`)))
	if err != nil {
		t.Fatal(err)
	}
	if state != "silenced" {
		t.Errorf("the alert's state after the silence: %q, want silenced", state)
	}
	shot("alerts-silenced")
	// The alert-router itself has it, made by the operator.
	sils := alertRouterSilences(t, alertsAPI)
	if len(sils) != 1 || sils[0].CreatedBy != "olga" || sils[0].Comment != "crew on site at t-browser" ||
		!slices.Contains(sils[0].Matchers, `transformer_id="t-browser"`) || !sils[0].EndsAt.After(time.Now().Add(time.Hour)) {
		t.Fatalf("the alert-router's silences: %+v", sils)
	}
	run("expire the silence", chromedp.Navigate(base+"/alerts"), chromedp.Click(chromedp.CSS(`#silences tr[data-silence="`+sils[0].ID+`"] button.expire`)),
		chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if s := bodyText(); !strings.Contains(s, "Silence "+sils[0].ID+" expired") {
		t.Fatalf("after expiring:\n%s", s)
	}
	if sils := alertRouterSilences(t, alertsAPI); len(sils) != 1 || sils[0].EndsAt.After(time.Now()) {
		t.Fatalf("the silence was not expired at the alert-router: %+v", sils)
	}
	t.Logf("screenshots in %s", shots)
}

// alertRouterSilences reads the alert-router's silences from its API.
func alertRouterSilences(t *testing.T, base string) []alertrouter.Silence {
	t.Helper()
	resp, err := http.Get(base + "/v1/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Silences []alertrouter.Silence }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/v1/silences: %s, %v", base, resp.Status, err)
	}
	return out.Silences
}

// waitText waits until the element at sel contains text.
func waitText(t *testing.T, ctx context.Context, sel, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		if strings.Contains(s, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not show %q within %s: %q", sel, text, timeout, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func publish(t *testing.T, p *rapids.Producer, topic, typ, key string, data any) {
	t.Helper()
	ev, err := contracts.New("/services/browser-test", typ, data)
	if err != nil {
		t.Fatal(err)
	}
	ev.PartitionKey = key
	m, err := contracts.EncodeBinary(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), rapids.Record{Topic: topic, Key: m.Key, Value: m.Value, Headers: m.Headers}); err != nil {
		t.Fatal(err)
	}
}

// deadLetterRecord is a letter of a usage.interval.v1 from origin, as the
// rivers SDK writes it.
func deadLetterRecord(t *testing.T, origin string) rapids.Record {
	t.Helper()
	ev, err := contracts.New("/services/browser-test", events.TypeUsageInterval, map[string]any{"meter_id": "m-dead"})
	if err != nil {
		t.Fatal(err)
	}
	ev.PartitionKey = "m-dead"
	m, err := contracts.EncodeBinary(ev)
	if err != nil {
		t.Fatal(err)
	}
	hs := append(m.Headers,
		contracts.Header{Key: deadletter.HeaderOriginTopic, Value: []byte(origin)},
		contracts.Header{Key: deadletter.HeaderOriginPartition, Value: []byte("0")},
		contracts.Header{Key: deadletter.HeaderOriginOffset, Value: []byte(strconv.Itoa(42))},
		contracts.Header{Key: deadletter.HeaderErrorClass, Value: []byte("permanent")},
		contracts.Header{Key: deadletter.HeaderError, Value: []byte("usage-aggregator: meter m-dead unknown")},
		contracts.Header{Key: deadletter.HeaderService, Value: []byte("usage-aggregator")},
		contracts.Header{Key: deadletter.HeaderFailedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))})
	return rapids.Record{Topic: rapids.DLQ(origin), Key: m.Key, Value: m.Value, Headers: hs}
}
