package console

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/rivers/deadletter"
	"github.com/watershed-grid/watershed/rivers/env"
	"golang.org/x/crypto/bcrypt"
)

// Name is the service's name.
const Name = "console"

// Roles of a signed-in user.
const (
	// RoleViewer reads every page and changes nothing.
	RoleViewer = "viewer"
	// RoleOperator also replays dead letters and silences alerts.
	RoleOperator = "operator"
)

// User is one person who may sign in.
type User struct {
	Name string
	Role string // RoleViewer or RoleOperator
	// Hash is the bcrypt hash of the user's password.
	Hash []byte
}

// Token is an API token: a script presents it as "Authorization: Bearer
// <token>" and acts with its role, under its name.
type Token struct {
	Name string
	Role string // RoleViewer or RoleOperator
	// Hash is the SHA-256 of the token. A token is a long random secret,
	// not a password, so a fast hash is enough and keeps every request
	// cheap.
	Hash [32]byte
}

// Config is the console's configuration.
type Config struct {
	// RegistryURL is the registry's HTTP API (GET /v1/services, /v1/types).
	// Default http://registry:8080 (CONSOLE_REGISTRY_URL).
	RegistryURL string
	// DemandURL is the demand tracker's HTTP API (GET /v1/demand).
	// Default http://demand-tracker:8080 (CONSOLE_DEMAND_URL).
	DemandURL string
	// HotPondURL is the hot pond's HTTP API (GET /v1/meters/{id}/latest).
	// Default http://hot-pond:8080 (CONSOLE_HOTPOND_URL).
	HotPondURL string
	// HotPondToken is the hot pond's API token (its HOTPOND_API_TOKEN),
	// sent as "Authorization: Bearer"; needed unless the hot pond runs on
	// this host. Default none (CONSOLE_HOTPOND_TOKEN).
	HotPondToken string
	// AlertsURL is the alert-router's HTTP API (GET /v1/alerts, /v1/silences,
	// /v1/rules; POST /v1/silences; DELETE /v1/silences/{id}). Default
	// http://alert-router:8080 (CONSOLE_ALERTS_URL).
	AlertsURL string
	// BackendTimeout bounds one request to a backend. Default 5s
	// (CONSOLE_BACKEND_TIMEOUT).
	BackendTimeout time.Duration

	// Users may sign in: CONSOLE_USERS ("name:role:bcrypt-hash", comma
	// separated) and the lines of the file CONSOLE_USERS_FILE (same form,
	// one a line, # comments). At least one is required.
	Users []User
	// Tokens are API tokens: CONSOLE_TOKENS ("name:role:sha256-hex", comma
	// separated) and the lines of the file CONSOLE_TOKENS_FILE.
	Tokens []Token
	// SigninFailures is how many failed sign-ins one user name may have
	// before it must wait; a client address may have four times as many
	// (people share addresses). Default 5 (CONSOLE_SIGNIN_FAILURES).
	SigninFailures int
	// SigninWait: once over SigninFailures, a name gets one more try every
	// SigninWait, an address four. A sign-in that succeeds clears both.
	// Default 1m (CONSOLE_SIGNIN_WAIT).
	SigninWait time.Duration
	// SessionKey signs session and CSRF cookies; at least 32 bytes. Default:
	// random at start, so a restart signs everyone out and replicas do not
	// share sessions (CONSOLE_SESSION_KEY).
	SessionKey []byte
	// SessionTTL is how long a sign-in lasts. Default 12h
	// (CONSOLE_SESSION_TTL).
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure (HTTPS only). Default false
	// (CONSOLE_SECURE_COOKIES); set it whenever the console is served over
	// HTTPS.
	SecureCookies bool

	// RingSize is how many recent business events the live page keeps.
	// Default 500 (CONSOLE_RING_SIZE).
	RingSize int
	// FeederHistory is how many feeder.load.v1 points are kept per feeder
	// for its chart. Default 96 (CONSOLE_FEEDER_HISTORY).
	FeederHistory int

	// DLQTopics are the dead-letter topics shown. Default: the rivers' and
	// rapids' ".dlq" topics (CONSOLE_DLQ_TOPICS, comma separated).
	DLQTopics []string
	// DLQReadIdle: a read of the dead-letter topics takes a partition as
	// read when a record its end offset promised has not come for this
	// long. Default 2s (CONSOLE_DLQ_READ_IDLE).
	DLQReadIdle time.Duration
	// ReplayLimit: an event replayed this many times is not replayed again.
	// Default 3 (CONSOLE_REPLAY_LIMIT).
	ReplayLimit int
}

// DefaultConfig returns the defaults (no users: see Config.Users).
func DefaultConfig() Config {
	return Config{
		RegistryURL:    "http://registry:8080",
		DemandURL:      "http://demand-tracker:8080",
		HotPondURL:     "http://hot-pond:8080",
		AlertsURL:      "http://alert-router:8080",
		BackendTimeout: 5 * time.Second,
		SigninFailures: 5,
		SigninWait:     time.Minute,
		SessionTTL:     12 * time.Hour,
		RingSize:       500,
		FeederHistory:  96,
		DLQReadIdle:    2 * time.Second,
		ReplayLimit:    deadletter.DefaultReplayLimit,
	}
}

// ConfigFromEnv reads the CONSOLE_* variables over the defaults.
func ConfigFromEnv() (Config, error) { return configFrom(env.New()) }

func configFrom(r *env.Reader, fallback ...User) (Config, error) {
	c := DefaultConfig()
	r.String("CONSOLE_REGISTRY_URL", &c.RegistryURL)
	r.String("CONSOLE_DEMAND_URL", &c.DemandURL)
	r.String("CONSOLE_HOTPOND_URL", &c.HotPondURL)
	r.String("CONSOLE_ALERTS_URL", &c.AlertsURL)
	if v, ok := r.Get("CONSOLE_HOTPOND_TOKEN"); ok {
		c.HotPondToken = v
		if strings.ContainsAny(v, " \t\r\n") {
			// never the value: it is a secret
			r.Problem("CONSOLE_HOTPOND_TOKEN", "holds whitespace: give the hot pond's HOTPOND_API_TOKEN as is")
		}
	}
	r.Duration("CONSOLE_BACKEND_TIMEOUT", &c.BackendTimeout)
	// Secrets: problems are reported without the value.
	if v, ok := r.Get("CONSOLE_USERS"); ok {
		us, err := ParseUsers(strings.ReplaceAll(v, ",", "\n"))
		c.Users = append(c.Users, us...)
		if err != nil {
			r.Problem("CONSOLE_USERS", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	if v, ok := r.Get("CONSOLE_USERS_FILE"); ok {
		b, err := os.ReadFile(v)
		if err != nil {
			r.Problem("CONSOLE_USERS_FILE", "%v", err)
		} else {
			us, err := ParseUsers(string(b))
			c.Users = append(c.Users, us...)
			if err != nil {
				r.Problem("CONSOLE_USERS_FILE", "%s: %s", v, strings.ReplaceAll(err.Error(), "\n", "; "))
			}
		}
	}
	if v, ok := r.Get("CONSOLE_TOKENS"); ok {
		ts, err := ParseTokens(strings.ReplaceAll(v, ",", "\n"))
		c.Tokens = append(c.Tokens, ts...)
		if err != nil {
			r.Problem("CONSOLE_TOKENS", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	if v, ok := r.Get("CONSOLE_TOKENS_FILE"); ok {
		b, err := os.ReadFile(v)
		if err != nil {
			r.Problem("CONSOLE_TOKENS_FILE", "%v", err)
		} else {
			ts, err := ParseTokens(string(b))
			c.Tokens = append(c.Tokens, ts...)
			if err != nil {
				r.Problem("CONSOLE_TOKENS_FILE", "%s: %s", v, strings.ReplaceAll(err.Error(), "\n", "; "))
			}
		}
	}
	r.Int("CONSOLE_SIGNIN_FAILURES", &c.SigninFailures)
	r.Duration("CONSOLE_SIGNIN_WAIT", &c.SigninWait)
	_, usersSet := r.Get("CONSOLE_USERS")
	if _, fileSet := r.Get("CONSOLE_USERS_FILE"); !usersSet && !fileSet {
		c.Users = fallback
	}
	if v, ok := r.Get("CONSOLE_SESSION_KEY"); ok {
		c.SessionKey = []byte(v)
	}
	r.Duration("CONSOLE_SESSION_TTL", &c.SessionTTL)
	r.Bool("CONSOLE_SECURE_COOKIES", &c.SecureCookies)
	r.Int("CONSOLE_RING_SIZE", &c.RingSize)
	r.Int("CONSOLE_FEEDER_HISTORY", &c.FeederHistory)
	r.Func("CONSOLE_DLQ_TOPICS", func(v string) error {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.DLQTopics = append(c.DLQTopics, t)
			}
		}
		return nil
	})
	r.Duration("CONSOLE_DLQ_READ_IDLE", &c.DLQReadIdle)
	r.Int("CONSOLE_REPLAY_LIMIT", &c.ReplayLimit)
	if err := r.Err(); err != nil {
		return Config{}, errors.Join(err, c.Validate())
	}
	return c, c.Validate()
}

// ParseUsers reads users, one "name:role:bcrypt-hash" a line; blank lines
// and lines starting with # are skipped. Make a hash with
// `htpasswd -nbBC 10 "" 'the password' | tr -d ':\n'`.
func ParseUsers(text string) ([]User, error) {
	var out []User
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			errs = append(errs, fmt.Errorf("user %d: want name:role:bcrypt-hash", n))
			continue
		}
		u := User{Name: strings.TrimSpace(parts[0]), Role: strings.TrimSpace(parts[1]), Hash: []byte(strings.TrimSpace(parts[2]))}
		switch {
		case u.Name == "":
			errs = append(errs, fmt.Errorf("user %d: empty name", n))
		case u.Role != RoleViewer && u.Role != RoleOperator:
			errs = append(errs, fmt.Errorf("user %q: role %q: want %s or %s", u.Name, u.Role, RoleViewer, RoleOperator))
		default:
			if _, err := bcrypt.Cost(u.Hash); err != nil {
				errs = append(errs, fmt.Errorf("user %q: the password is not a bcrypt hash ($2a$, $2b$ or $2y$)", u.Name))
				continue
			}
			out = append(out, u)
		}
	}
	return out, errors.Join(errs...)
}

// ParseTokens reads API tokens, one "name:role:sha256-hex" a line; blank
// lines and lines starting with # are skipped. Make a token and its line
// with
//
//	tok=$(openssl rand -hex 32); echo "ci:operator:$(printf %s "$tok" | sha256sum | cut -d' ' -f1)"
//
// and give $tok to the script; the console keeps only the hash.
func ParseTokens(text string) ([]Token, error) {
	var out []Token
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			errs = append(errs, fmt.Errorf("token %d: want name:role:sha256-hex", n))
			continue
		}
		t := Token{Name: strings.TrimSpace(parts[0]), Role: strings.TrimSpace(parts[1])}
		h, err := hex.DecodeString(strings.TrimSpace(parts[2]))
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("token %d: empty name", n))
		case t.Role != RoleViewer && t.Role != RoleOperator:
			errs = append(errs, fmt.Errorf("token %q: role %q: want %s or %s", t.Name, t.Role, RoleViewer, RoleOperator))
		case err != nil || len(h) != 32:
			// never the value: it may be the token itself, pasted by mistake
			errs = append(errs, fmt.Errorf("token %q: want the SHA-256 of the token in hex (64 digits, printf %%s \"$TOKEN\" | sha256sum), not the token", t.Name))
		default:
			copy(t.Hash[:], h)
			out = append(out, t)
		}
	}
	return out, errors.Join(errs...)
}

// Validate reports invalid values, naming the variable.
func (c Config) Validate() error {
	var errs []error
	for _, b := range [][2]string{{"CONSOLE_REGISTRY_URL", c.RegistryURL}, {"CONSOLE_DEMAND_URL", c.DemandURL}, {"CONSOLE_HOTPOND_URL", c.HotPondURL}, {"CONSOLE_ALERTS_URL", c.AlertsURL}} {
		name, u := b[0], b[1]
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s=%q: want an http(s) URL such as http://registry:8080", name, u))
		}
	}
	if c.BackendTimeout <= 0 {
		errs = append(errs, fmt.Errorf("CONSOLE_BACKEND_TIMEOUT=%s: must be positive", c.BackendTimeout))
	}
	if len(c.Users) == 0 && len(c.Tokens) == 0 {
		errs = append(errs, errors.New("CONSOLE_USERS or CONSOLE_USERS_FILE: no user may sign in; give at least one name:role:bcrypt-hash (or an API token in CONSOLE_TOKENS)"))
	}
	seen := map[string]bool{}
	for _, u := range c.Users {
		if seen[u.Name] {
			errs = append(errs, fmt.Errorf("CONSOLE_USERS: user %q listed twice", u.Name))
		}
		seen[u.Name] = true
	}
	names, hashes := map[string]bool{}, map[[32]byte]string{}
	for _, t := range c.Tokens {
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("CONSOLE_TOKENS: token %q listed twice; give each token its own name", t.Name))
		}
		names[t.Name] = true
		if other, dup := hashes[t.Hash]; dup && other != t.Name {
			errs = append(errs, fmt.Errorf("CONSOLE_TOKENS: tokens %q and %q have the same hash; make each token anew", other, t.Name))
		}
		hashes[t.Hash] = t.Name
	}
	if c.SigninFailures < 1 {
		errs = append(errs, fmt.Errorf("CONSOLE_SIGNIN_FAILURES=%d: must be at least 1", c.SigninFailures))
	}
	if c.SigninWait <= 0 {
		errs = append(errs, fmt.Errorf("CONSOLE_SIGNIN_WAIT=%s: must be positive", c.SigninWait))
	}
	if c.SessionKey != nil && len(c.SessionKey) < 32 {
		errs = append(errs, fmt.Errorf("CONSOLE_SESSION_KEY: %d bytes; want at least 32", len(c.SessionKey)))
	}
	if c.SessionTTL <= 0 {
		errs = append(errs, fmt.Errorf("CONSOLE_SESSION_TTL=%s: must be positive", c.SessionTTL))
	}
	if c.RingSize < 1 || c.RingSize > 100000 {
		errs = append(errs, fmt.Errorf("CONSOLE_RING_SIZE=%d: want 1 to 100000", c.RingSize))
	}
	if c.FeederHistory < 1 || c.FeederHistory > 10000 {
		errs = append(errs, fmt.Errorf("CONSOLE_FEEDER_HISTORY=%d: want 1 to 10000", c.FeederHistory))
	}
	for _, t := range c.DLQTopics {
		if !strings.HasSuffix(t, ".dlq") {
			errs = append(errs, fmt.Errorf("CONSOLE_DLQ_TOPICS: %q is not a dead-letter topic (want a name ending in .dlq)", t))
		}
	}
	if c.DLQReadIdle <= 0 {
		errs = append(errs, fmt.Errorf("CONSOLE_DLQ_READ_IDLE=%s: must be positive", c.DLQReadIdle))
	}
	if c.ReplayLimit < 1 {
		errs = append(errs, fmt.Errorf("CONSOLE_REPLAY_LIMIT=%d: must be at least 1", c.ReplayLimit))
	}
	return errors.Join(errs...)
}

// ConfigFromEnvWithUsers is ConfigFromEnv with users standing in when
// neither CONSOLE_USERS nor CONSOLE_USERS_FILE is set (`watershed dev`
// signs its generated operator in with it).
func ConfigFromEnvWithUsers(users []User) (Config, error) { return configFrom(env.New(), users...) }
