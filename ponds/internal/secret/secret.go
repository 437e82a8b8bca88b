// Package secret keeps credentials out of messages.
package secret

import (
	"errors"
	"net/url"
	"strings"
)

// URL returns s with the password of its user information, and the values
// of query parameters named like secrets (sig, *secret*, *token*, *key*,
// *password*), replaced by "xxxxx". Unlike url.URL.Redacted it works on a string that does not
// parse as a URL (a bad port, say), which is exactly when an error message
// would quote it.
func URL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		user := auth[:at]
		if c := strings.IndexByte(user, ':'); c >= 0 {
			user = user[:c] + ":xxxxx"
		}
		auth = user + auth[at:]
	}
	return s[:i+3] + auth + query(rest[end:])
}

// query redacts the secret-looking parameter values of "/path?query#frag".
func query(s string) string {
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return s
	}
	frag := ""
	if h := strings.IndexByte(s[q:], '#'); h >= 0 {
		s, frag = s[:q+h], s[q+h:]
	}
	params := strings.Split(s[q+1:], "&")
	for i, p := range params {
		k, _, ok := strings.Cut(p, "=")
		if lk := strings.ToLower(k); ok && (lk == "sig" || strings.Contains(lk, "secret") || strings.Contains(lk, "token") ||
			strings.Contains(lk, "key") || strings.Contains(lk, "password")) {
			params[i] = k + "=xxxxx"
		}
	}
	return s[:q+1] + strings.Join(params, "&") + frag
}

// ParseCause is the reason of a url.Parse error without the URL it quotes.
func ParseCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
