package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Cookie names.
const (
	cookieSession = "console_session"
	cookieCSRF    = "console_csrf"
)

// auth signs people in and out and guards every request: pages need a
// session, POSTs need a CSRF token and a same-origin request, and actions
// need their role.
type auth struct {
	users  map[string]User
	tokens map[[32]byte]Token // by the SHA-256 of the token
	key    []byte
	ttl    time.Duration
	secure bool
	now    func() time.Time
	// dummy is compared against when the user is unknown, so that a wrong
	// name takes as long as a wrong password.
	dummy []byte
	cop   *http.CrossOriginProtection
	// fail answers a refused request (the server renders a page).
	fail func(w http.ResponseWriter, r *http.Request, code int, msg string)
}

func newAuth(cfg Config) *auth {
	a := &auth{users: map[string]User{}, tokens: map[[32]byte]Token{}, key: cfg.SessionKey, ttl: cfg.SessionTTL, secure: cfg.SecureCookies, now: time.Now,
		cop: http.NewCrossOriginProtection()}
	for _, u := range cfg.Users {
		a.users[u.Name] = u
	}
	for _, t := range cfg.Tokens {
		a.tokens[t.Hash] = t
	}
	if len(a.key) == 0 {
		a.key = make([]byte, 32)
		_, _ = rand.Read(a.key)
	}
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.MinCost)
	a.fail = func(w http.ResponseWriter, _ *http.Request, code int, msg string) { http.Error(w, msg, code) }
	a.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, http.StatusForbidden, "Cross-origin request refused: the console only accepts forms it served itself.")
	}))
	return a
}

// session is what the signed session cookie carries. The role is not in
// it: it is looked up in the configuration on every request, so a changed
// role or a removed user takes effect at once.
type session struct {
	User    string `json:"u"`
	Expires int64  `json:"e"`
}

func (a *auth) sign(b []byte) string {
	m := hmac.New(sha256.New, a.key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// check returns the user for name and password, or false.
func (a *auth) check(name, password string) (User, bool) {
	u, ok := a.users[name]
	hash := a.dummy
	if ok {
		hash = u.Hash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok {
		return User{}, false
	}
	return u, true
}

func (a *auth) setSession(w http.ResponseWriter, u User) {
	b, _ := json.Marshal(session{User: u.Name, Expires: a.now().Add(a.ttl).Unix()})
	v := base64.RawURLEncoding.EncodeToString(b) + "." + a.sign(b)
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: v, Path: "/", HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.ttl.Seconds())})
}

func (a *auth) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: "", Path: "/", HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// bearerToken returns the token of r's "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// tokenUser returns the holder of r's bearer token, as a user with the
// token's name and role. ok is false without a token or with an unknown
// one. The map is keyed by the token's hash: the secret is never compared.
func (a *auth) tokenUser(r *http.Request) (u User, bearer, ok bool) {
	tok, bearer := bearerToken(r)
	if !bearer {
		return User{}, false, false
	}
	t, ok := a.tokens[sha256.Sum256([]byte(tok))]
	if !ok || tok == "" {
		return User{}, true, false
	}
	return User{Name: t.Name, Role: t.Role}, true, true
}

// user returns who makes r: the holder of its bearer token when it has an
// Authorization header (never the session then: a wrong token is not
// covered by a cookie), else the signed-in user of its session.
func (a *auth) user(r *http.Request) (User, bool) {
	if u, bearer, ok := a.tokenUser(r); bearer {
		return u, ok
	}
	c, err := r.Cookie(cookieSession)
	if err != nil {
		return User{}, false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return User{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || !hmac.Equal([]byte(a.sign(b)), []byte(sig)) {
		return User{}, false
	}
	var s session
	if json.Unmarshal(b, &s) != nil || a.now().Unix() >= s.Expires {
		return User{}, false
	}
	u, ok := a.users[s.User]
	return u, ok
}

// csrfToken returns the token forms of r must carry, setting the CSRF
// cookie when r has none. The token is an HMAC of the cookie's random
// value: a cookie planted by a sibling domain does not give its token.
func (a *auth) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookieCSRF); err == nil && len(c.Value) >= 32 {
		return a.sign([]byte("csrf:" + c.Value))
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: cookieCSRF, Value: v, Path: "/", HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteStrictMode})
	// the request goes on with it, so the page rendered now has the token
	r.AddCookie(&http.Cookie{Name: cookieCSRF, Value: v})
	return a.sign([]byte("csrf:" + v))
}

// validCSRF reports whether the POST r carries the token of its cookie.
func (a *auth) validCSRF(r *http.Request) bool {
	c, err := r.Cookie(cookieCSRF)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	want := a.sign([]byte("csrf:" + c.Value))
	got := r.PostFormValue("csrf")
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

type userKey struct{}

// currentUser returns the user [auth.require] put on ctx.
func currentUser(ctx context.Context) User {
	u, _ := ctx.Value(userKey{}).(User)
	return u
}

// protect is the middleware of every route: a POST must be same-origin
// (Sec-Fetch-Site / Origin, http.CrossOriginProtection) and carry the CSRF
// token of its cookie, or it is refused with 403. A request with a valid
// bearer token is let through: a browser never adds that header by
// itself, so another site cannot forge it, and CSRF is a cookie's problem.
func (a *auth) protect(next http.Handler) http.Handler {
	guarded := a.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !a.validCSRF(r) {
			a.fail(w, r, http.StatusForbidden, "The form is stale or was not sent by the console (its CSRF token is missing or wrong): reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := a.tokenUser(r); ok {
			next.ServeHTTP(w, r)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// require lets signed-in users through (with a role when role is not
// empty) and sends others to the sign-in page (GET) or refuses them (401).
func (a *auth) require(role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.user(r)
		if !ok {
			if _, bearer := bearerToken(r); bearer {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				a.fail(w, r, http.StatusUnauthorized, "The bearer token is not one of CONSOLE_TOKENS (send the token itself; the console keeps its SHA-256).")
				return
			}
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/stream") && !strings.HasPrefix(r.URL.Path, "/api/") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="console"`)
			a.fail(w, r, http.StatusUnauthorized, "Sign in first, or send an API token (Authorization: Bearer).")
			return
		}
		if role == RoleOperator && u.Role != RoleOperator {
			a.fail(w, r, http.StatusForbidden, "This needs the operator role; "+u.Name+" is a "+u.Role+".")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// safeNext returns next when it is a path on this site, else "/".
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
