package hotpond

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// EnvAPIToken is the bearer token the read API (/v1/*) requires.
const EnvAPIToken = "HOTPOND_API_TOKEN"

// minTokenLen keeps out a token short enough to guess; init-secrets.sh and
// `openssl rand -hex 32` make 64 characters.
const minTokenLen = 16

// validToken reports what is wrong with a configured token, without
// repeating it (it is a secret).
func validToken(tok string) error {
	switch {
	case tok == "":
		return fmt.Errorf("%s is set but empty: unset it to serve the API to loopback clients only, or give a token (openssl rand -hex 32)", EnvAPIToken)
	case len(tok) < minTokenLen:
		return fmt.Errorf("%s: %d characters; want at least %d (openssl rand -hex 32)", EnvAPIToken, len(tok), minTokenLen)
	case strings.IndexFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return fmt.Errorf("%s: contains a space or control character (a trailing newline from a file?)", EnvAPIToken)
	}
	return nil
}

// requireToken guards the read API. With a token, every request must carry
// "Authorization: Bearer <token>" (compared in constant time). Without
// one, only loopback clients are served: a developer's `go run` and
// `watershed dev` need no token, while a container's or pod's API, which
// others reach through a bridge or a Service, is closed until
// HOTPOND_API_TOKEN is set.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			if !fromLoopback(r) {
				http.Error(w, "the hot pond's API serves loopback clients only: set "+EnvAPIToken+" on hot-pond and send it as Authorization: Bearer <token>", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hot-pond"`)
			http.Error(w, "send the hot pond's API token: Authorization: Bearer <"+EnvAPIToken+">", http.StatusUnauthorized)
			return
		}
		// Hashing both sides first makes the comparison's time independent
		// of the lengths too.
		got := sha256.Sum256([]byte(strings.TrimSpace(h[7:])))
		if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hot-pond", error="invalid_token"`)
			http.Error(w, "the bearer token is not the hot pond's "+EnvAPIToken, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fromLoopback reports whether the request's peer is this host.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
