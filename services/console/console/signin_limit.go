package console

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// signinLimit limits sign-in attempts per client address and per user
// name, each a token bucket (golang.org/x/time/rate): a name may fail
// burst times in a row, then try once every wait; an address four times
// as often, since people share addresses (an office, a proxy). An attempt
// takes a token from both buckets before the password is checked, so
// parallel guesses are counted too; a sign-in that succeeds refills both.
type signinLimit struct {
	mu     sync.Mutex
	names  buckets
	addrs  buckets
	tracks int // most keys kept per kind
}

type buckets struct {
	m     map[string]*rate.Limiter
	limit rate.Limit
	burst int
}

func newSigninLimit(failures int, wait time.Duration) *signinLimit {
	return &signinLimit{
		names:  buckets{m: map[string]*rate.Limiter{}, limit: rate.Every(wait), burst: failures},
		addrs:  buckets{m: map[string]*rate.Limiter{}, limit: rate.Every(wait / 4), burst: 4 * failures},
		tracks: 10000,
	}
}

// attempt takes a try for addr and name at now. It returns 0 when the
// attempt may go on, else how long until one may (nothing is taken then).
func (l *signinLimit) attempt(now time.Time, addr, name string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, n := l.addrs.get(now, addr, l.tracks), l.names.get(now, name, l.tracks)
	wait := max(waitFor(now, a), waitFor(now, n))
	if wait > 0 {
		return wait
	}
	for _, b := range []*rate.Limiter{a, n} {
		if b != nil {
			b.AllowN(now, 1)
		}
	}
	return 0
}

// succeeded forgets the failures of addr and name.
func (l *signinLimit) succeeded(addr, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.addrs.m, addr)
	delete(l.names.m, name)
}

// get returns key's bucket, made full when new. Past most keys, full
// buckets (nothing to remember) are dropped; when none is, the key is not
// tracked (nil): the address's bucket still holds whoever floods names.
func (b *buckets) get(now time.Time, key string, most int) *rate.Limiter {
	if lim, ok := b.m[key]; ok {
		return lim
	}
	if len(b.m) >= most {
		for k, lim := range b.m {
			if lim.TokensAt(now) >= float64(b.burst) {
				delete(b.m, k)
			}
		}
		if len(b.m) >= most {
			return nil
		}
	}
	lim := rate.NewLimiter(b.limit, b.burst)
	b.m[key] = lim
	return lim
}

// waitFor is how long until lim has a token at now.
func waitFor(now time.Time, lim *rate.Limiter) time.Duration {
	if lim == nil {
		return 0
	}
	missing := 1 - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
}

// retryAfter is d in whole seconds, rounded up, for a Retry-After header.
func retryAfter(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// clientAddr is the address r came from (no port). Behind a reverse proxy
// that is the proxy's: see the README.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
