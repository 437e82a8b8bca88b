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
	a := &auth{users: map[string]User{}, key: cfg.SessionKey, ttl: cfg.SessionTTL, secure: cfg.SecureCookies, now: time.Now,
		cop: http.NewCrossOriginProtection()}
	for _, u := range cfg.Users {
		a.users[u.Name] = u
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

// user returns the signed-in user of r.
func (a *auth) user(r *http.Request) (User, bool) {
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
// token of its cookie, or it is refused with 403.
func (a *auth) protect(next http.Handler) http.Handler {
	return a.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !a.validCSRF(r) {
			a.fail(w, r, http.StatusForbidden, "The form is stale or was not sent by the console (its CSRF token is missing or wrong): reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// require lets signed-in users through (with a role when role is not
// empty) and sends others to the sign-in page (GET) or refuses them (401).
func (a *auth) require(role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.user(r)
		if !ok {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/stream") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			a.fail(w, r, http.StatusUnauthorized, "Sign in first.")
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
