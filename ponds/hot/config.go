package hot

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/watershed-grid/watershed/ponds/internal/secret"
)

// Environment variables read by [ConfigFromEnv], with their defaults.
const (
	EnvURL                   = "REDIS_URL"                      // default DefaultURL
	EnvUsername              = "REDIS_USERNAME"                 // ACL user; overrides the URL's user
	EnvPassword              = "REDIS_PASSWORD"                 // overrides the URL's password
	EnvTLSCAFile             = "REDIS_TLS_CA_FILE"              // PEM CA bundle; default: the system roots
	EnvTLSCertFile           = "REDIS_TLS_CERT_FILE"            // PEM client certificate (mutual TLS)
	EnvTLSKeyFile            = "REDIS_TLS_KEY_FILE"             // PEM client key (mutual TLS)
	EnvTLSServerName         = "REDIS_TLS_SERVER_NAME"          // default: the URL's host
	EnvTLSInsecureSkipVerify = "REDIS_TLS_INSECURE_SKIP_VERIFY" // default false; never in production
	EnvDialTimeout           = "REDIS_DIAL_TIMEOUT"             // Go duration, default 5s
	EnvPoolSize              = "REDIS_POOL_SIZE"                // default 0: go-redis' 10 per CPU
)

// DefaultURL is the Redis of a developer's machine.
const DefaultURL = "redis://127.0.0.1:6379/0"

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid Redis configuration")

// Config says how to reach Redis. The zero value, after [Config.Validate]
// fills the defaults, is a plain connection to DefaultURL.
type Config struct {
	// URL is redis://[user:password@]host:port/db, rediss:// for TLS, or
	// unix:///path/to/socket?db=N. Default DefaultURL.
	URL string
	// Username and Password are the Redis ACL user; when set they replace
	// what the URL says. Default: the URL's, else the "default" user.
	Username string
	Password string
	// TLS applies to rediss:// URLs only.
	TLS TLS
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration
	// PoolSize is the connection pool size. Default 0: go-redis' default.
	PoolSize int
}

// TLS is the TLS configuration of a rediss:// connection.
type TLS struct {
	CAFile             string // PEM CA bundle; empty: the system roots
	CertFile, KeyFile  string // client certificate and key, both or neither
	ServerName         string // default: the URL's host
	InsecureSkipVerify bool   // accept any server certificate: tests only
}

func (t TLS) set() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// ConfigFromEnv reads the REDIS_* variables (see the Env constants) and
// validates the result.
func ConfigFromEnv() (Config, error) { return configFromLookup(os.LookupEnv) }

func configFromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(k string) string { v, _ := lookup(k); return v }
	c := Config{
		URL:      get(EnvURL),
		Username: get(EnvUsername),
		Password: get(EnvPassword),
		TLS: TLS{
			CAFile:     get(EnvTLSCAFile),
			CertFile:   get(EnvTLSCertFile),
			KeyFile:    get(EnvTLSKeyFile),
			ServerName: get(EnvTLSServerName),
		},
	}
	if v := get(EnvTLSInsecureSkipVerify); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %s=%q is not a boolean: set it to true or false", ErrConfig, EnvTLSInsecureSkipVerify, v)
		}
		c.TLS.InsecureSkipVerify = b
	}
	if v := get(EnvDialTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("%w: %s=%q is not a positive duration: use e.g. 5s", ErrConfig, EnvDialTimeout, v)
		}
		c.DialTimeout = d
	}
	if v := get(EnvPoolSize); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Config{}, fmt.Errorf("%w: %s=%q is not a non-negative integer", ErrConfig, EnvPoolSize, v)
		}
		c.PoolSize = n
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate fills the defaults and reports the first setting that cannot
// work, naming its environment variable and how to fix it. It reads the TLS
// files, so a missing certificate fails at start rather than at first use.
func (c *Config) Validate() error {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.DialTimeout < 0 {
		return fmt.Errorf("%w: %s must be positive, got %v", ErrConfig, EnvDialTimeout, c.DialTimeout)
	}
	if c.PoolSize < 0 {
		return fmt.Errorf("%w: %s must not be negative, got %d", ErrConfig, EnvPoolSize, c.PoolSize)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("%w: %s=%q is not a URL (%v): use redis://host:6379/0 or rediss://host:6380/0", ErrConfig, EnvURL, RedactURL(c.URL), secret.ParseCause(err))
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return fmt.Errorf("%w: %s scheme %q is not supported: use redis:// (plain), rediss:// (TLS) or unix://", ErrConfig, EnvURL, u.Scheme)
	}
	if u.Scheme != "unix" && u.Host == "" {
		return fmt.Errorf("%w: %s=%q has no host: use redis://host:6379/0", ErrConfig, EnvURL, redacted(u))
	}
	if _, err := redis.ParseURL(c.URL); err != nil {
		return fmt.Errorf("%w: %s=%q: %s", ErrConfig, EnvURL, redacted(u), scrub(err.Error(), u))
	}
	if c.TLS.set() && u.Scheme != "rediss" {
		return fmt.Errorf("%w: REDIS_TLS_* is set but %s uses %s://: use rediss:// to connect with TLS, or unset the REDIS_TLS_* variables", ErrConfig, EnvURL, u.Scheme)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return fmt.Errorf("%w: set both %s and %s for a client certificate, or neither", ErrConfig, EnvTLSCertFile, EnvTLSKeyFile)
	}
	if u.Scheme == "rediss" {
		if _, err := c.tlsConfig(u.Hostname()); err != nil {
			return err
		}
	}
	return nil
}

// Options returns the go-redis options of c. Call Validate first.
func (c Config) Options() (*redis.Options, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	o, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s=%q: %s", ErrConfig, EnvURL, RedactURL(c.URL), scrub(err.Error(), nil))
	}
	if c.Username != "" {
		o.Username = c.Username
	}
	if c.Password != "" {
		o.Password = c.Password
	}
	o.DialTimeout = c.DialTimeout
	if c.PoolSize > 0 {
		o.PoolSize = c.PoolSize
	}
	if o.TLSConfig != nil {
		u, _ := url.Parse(c.URL)
		tc, err := c.tlsConfig(u.Hostname())
		if err != nil {
			return nil, err
		}
		o.TLSConfig = tc
	}
	return o, nil
}

// NewClient returns a go-redis client for c. It does not connect yet: the
// first command (or [Open], which pings) finds out whether Redis answers.
func NewClient(c Config) (*redis.Client, error) {
	o, err := c.Options()
	if err != nil {
		return nil, err
	}
	return redis.NewClient(o), nil
}

func (c Config) tlsConfig(host string) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         host,
		InsecureSkipVerify: c.TLS.InsecureSkipVerify, //nolint:gosec // opt-in, documented as tests only
	}
	if c.TLS.ServerName != "" {
		tc.ServerName = c.TLS.ServerName
	}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, EnvTLSCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: %s=%q holds no PEM certificate", ErrConfig, EnvTLSCAFile, c.TLS.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %s/%s: %v", ErrConfig, EnvTLSCertFile, EnvTLSKeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// redacted returns u without its password, for error messages.
func redacted(u *url.URL) string { return u.Redacted() }

// RedactURL returns s with the password of its user information replaced
// by "xxxxx", for messages. Unlike url.URL.Redacted it works on a string
// that does not parse as a URL (a bad port, say), which is exactly when an
// error message would quote it.
func RedactURL(s string) string { return secret.URL(s) }

// scrub removes u's password from a message of another library.
func scrub(msg string, u *url.URL) string {
	if u == nil {
		return "invalid"
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
		msg = strings.ReplaceAll(msg, url.QueryEscape(pw), "xxxxx")
	}
	return msg
}
