// Package bearer guards a service's HTTP API with one bearer token, the
// rule every Watershed API follows (hot-pond's read API, usage-insights):
//
//   - with a token, every request carries "Authorization: Bearer <token>",
//     compared in constant time (both sides hashed first, so the time does
//     not depend on the lengths either);
//   - without one, only loopback clients are served: a developer's `go run`
//     and `watershed dev` need no token, while a container's or pod's API,
//     which others reach through a bridge or a Service, stays closed until
//     the token is set.
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// MinLen keeps out a token short enough to guess; `openssl rand -hex 32`
// (and deploy/init-secrets.sh) make 64 characters.
const MinLen = 16

// Check reports what is wrong with a configured token, naming its
// variable env and never repeating the token (it is a secret). An empty
// token is valid: loopback clients only.
func Check(env, token string) error {
	switch {
	case token == "":
		return nil
	case len(token) < MinLen:
		return fmt.Errorf("%s: %d characters; want at least %d (openssl rand -hex 32)", env, len(token), MinLen)
	case strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return fmt.Errorf("%s: contains a space or control character (a trailing newline from a file?)", env)
	}
	return nil
}

// Guard is the token rule of one API: Realm names it in WWW-Authenticate
// and the messages, Env is the variable that sets Token.
type Guard struct {
	Realm string
	Env   string
	Token string
	// Reply writes an error (default: text/plain with http.Error); APIs
	// that answer JSON set their own.
	Reply func(w http.ResponseWriter, code int, msg string)
}

// Wrap returns next behind the rule.
func (g Guard) Wrap(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(g.Token))
	reply := g.Reply
	if reply == nil {
		reply = func(w http.ResponseWriter, code int, msg string) { http.Error(w, msg, code) }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.Token == "" {
			if !FromLoopback(r) {
				reply(w, http.StatusForbidden, fmt.Sprintf("the %s API serves loopback clients only: set %s and send it as Authorization: Bearer <token>", g.Realm, g.Env))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+g.Realm+`"`)
			reply(w, http.StatusUnauthorized, fmt.Sprintf("send the %s API token: Authorization: Bearer <%s>", g.Realm, g.Env))
			return
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(h[7:])))
		if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+g.Realm+`", error="invalid_token"`)
			reply(w, http.StatusUnauthorized, fmt.Sprintf("the bearer token is not the %s API's %s", g.Realm, g.Env))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// FromLoopback reports whether the request's peer is this host.
func FromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
