package rivers

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
)

// Config is a service's configuration. Load it once in main with
// [ConfigFromEnv], or fill a literal: a zero field means its default, which
// the comment names together with the environment variable that sets it.
// [NewService] applies the defaults and fails on invalid values.
type Config struct {
	// Name is the service's name: lower-case letters, digits and dashes,
	// at most 64. It is the ce_source ("/services/<name>"), the default
	// consumer group and the metrics' service.name. Required (SERVICE_NAME
	// overrides the name given to ConfigFromEnv).
	Name string
	// Version of the service. Default: SERVICE_VERSION, else the version
	// stamped at build time (see [Main]), else the module version from the
	// build information, else (go run in a checkout) the module's version in
	// the repository's modules.txt, else "0.0.0-dev".
	Version string
	// Instance identifies this process. Default: SERVICE_INSTANCE, else
	// "<hostname>-<pid>".
	Instance string
	// Group is the Kafka consumer group. Default: Name (KAFKA_GROUP).
	Group string
	// StartOffset is where a group with no committed offset starts:
	// "earliest" (default: a new service reads the history the topic still
	// holds; expired events are dropped by their use-by date) or "latest"
	// (KAFKA_START_OFFSET).
	StartOffset string
	// Kafka is the broker connection (KAFKA_* variables, see the rapids
	// package). It also names the topics.
	Kafka rapids.Config
	// SkipEnsureTopics skips creating the four topics at start when they are
	// missing (ENSURE_TOPICS=false), for clusters where services may not
	// create topics.
	SkipEnsureTopics bool

	// HTTPAddr is where /healthz, /readyz and /metrics listen. Default
	// ":8080" (HTTP_ADDR); "off" disables the server.
	HTTPAddr string
	// HeartbeatInterval is how often system.heartbeat.v1 is published.
	// Default 5s (HEARTBEAT_INTERVAL).
	HeartbeatInterval time.Duration
	// ShutdownTimeout bounds a graceful stop: finish the event in hand,
	// flush, commit, leave the group. Default 20s (SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration

	// DedupWindow is how long a (ce_source, ce_id) pair is remembered to
	// drop duplicate deliveries. Default 10m (DEDUP_WINDOW).
	DedupWindow time.Duration
	// DedupSize bounds the in-memory de-duplication store; the oldest keys
	// are forgotten first. Default 100000 (DEDUP_SIZE).
	DedupSize int
	// MaxHops is the hop count past which an event is a loop and is
	// dead-lettered. Default 10 (MAX_HOPS).
	MaxHops int
	// ControlKey signs the control events the service publishes
	// (retirements, commands: see [HeaderAuthSig]); nil signs none. Loaded
	// from the PEM file CONTROL_KEY_FILE.
	ControlKey ed25519.PrivateKey
	// ControlKeyID names ControlKey in the consumers' trust lists. Default:
	// Name (CONTROL_KEY_ID).
	ControlKeyID string
	// ControlTrust lists who may publish which control types. When set
	// (even empty), a control event the service consumes takes effect only
	// with a valid signature of a key listed for its type; others are
	// dead-lettered as unauthorised. Nil accepts every control event, with
	// a warning at start. Loaded from CONTROL_TRUST_FILE (see [ParseTrust]).
	ControlTrust []TrustedKey
	// MaxEventBytes bounds one event's key, value and headers; larger
	// records are dead-lettered as malformed. Default 1 MiB
	// (MAX_EVENT_BYTES).
	MaxEventBytes int
	// HandlerTimeout bounds one handler attempt; its ctx is cancelled after
	// it. Default 30s (HANDLER_TIMEOUT); negative disables it.
	HandlerTimeout time.Duration
	// Retry is how transient handler errors are retried (RETRY_ATTEMPTS,
	// RETRY_BACKOFF, RETRY_MAX_BACKOFF).
	Retry RetryPolicy
	// MaxInFlight bounds the handled events waiting for their publications
	// to be acknowledged before their offsets are committed. Default 1000
	// (MAX_IN_FLIGHT).
	MaxInFlight int
	// Concurrency is how many partitions the service works on at once: its
	// records are spread over this many workers by partition, so the order
	// within a partition is kept. Handlers must then be safe for concurrent
	// use. Default 1 (CONCURRENCY); the topic's partition count is the
	// ceiling that makes sense.
	Concurrency int
	// MaxBatch bounds the records of one batch given to a batch handler
	// ([HandleBatch]). Default 512 (MAX_BATCH).
	MaxBatch int

	// DefaultTTL is the use-by of published events whose type has no TTL of
	// its own: expirytime = time of publication + TTL. Default 24h
	// (EVENT_TTL); negative means published events never expire.
	DefaultTTL time.Duration
	// TTLs are per-type use-by durations, e.g. {"meter.reading.v1": 2h}
	// (EVENT_TTLS="meter.reading.v1=2h,outage.suspected.v1=30m"). Built in,
	// unless set here: system.heartbeat.v1 3 × HeartbeatInterval,
	// system.service.started.v1 and .stopping.v1 1h, system.retirement.v1
	// 7 days.
	TTLs map[string]time.Duration

	// LogLevel is debug, info, warn or error. Default info (LOG_LEVEL).
	LogLevel string
	// LogFormat is json or text. Default json (LOG_FORMAT).
	LogFormat string
	// TracesExporter is none, otlp (HTTP/protobuf, configured by the
	// OTEL_EXPORTER_OTLP_* variables) or console. Default none
	// (OTEL_TRACES_EXPORTER).
	TracesExporter string
}

// Defaults of Config.
const (
	DefaultHTTPAddr          = ":8080"
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultShutdownTimeout   = 20 * time.Second
	DefaultMaxHops           = contracts.DefaultMaxHops
	DefaultHandlerTimeout    = 30 * time.Second
	DefaultMaxInFlight       = 1000
	DefaultConcurrency       = 1
	DefaultMaxBatch          = 512
	DefaultTTL               = 24 * time.Hour
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// withDefaults fills every zero field with its default.
func (c Config) withDefaults() Config {
	if c.Version == "" {
		c.Version = buildVersion()
	}
	if c.Instance == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "localhost"
		}
		c.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.Group == "" {
		c.Group = c.Name
	}
	if c.StartOffset == "" {
		c.StartOffset = "earliest"
	}
	if c.Kafka.Topics.Rapids == "" {
		c.Kafka.Topics.Rapids = rapids.DefaultRapidsTopic
	}
	if c.Kafka.Topics.Rivers == "" {
		c.Kafka.Topics.Rivers = rapids.DefaultRiversTopic
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.DedupSize == 0 {
		c.DedupSize = DefaultDedupSize
	}
	if c.MaxHops == 0 {
		c.MaxHops = DefaultMaxHops
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = contracts.DefaultMaxEventBytes
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = DefaultHandlerTimeout
	}
	c.Retry = c.Retry.withDefaults()
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.DefaultTTL == 0 {
		c.DefaultTTL = DefaultTTL
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
	}
	if c.TracesExporter == "" {
		c.TracesExporter = TracesNone
	}
	return c
}

// Validate reports every problem of c (zero fields read as their
// defaults), each naming the field's environment variable and what to fix.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !namePattern.MatchString(c.Name) {
		bad("SERVICE_NAME: %q is not a service name: use lower-case letters, digits and dashes, starting with a letter, at most 64", c.Name)
	}
	if c.StartOffset != "earliest" && c.StartOffset != "latest" {
		bad("KAFKA_START_OFFSET: %q: want earliest or latest", c.StartOffset)
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.HTTPAddr != "off" {
		if _, port, ok := strings.Cut(c.HTTPAddr, ":"); !ok || port == "" {
			bad("HTTP_ADDR: %q is not [host]:port (e.g. :8080 or 127.0.0.1:0), or off", c.HTTPAddr)
		}
	}
	positive := func(env string, d time.Duration, eg string) {
		if d < 0 {
			bad("%s: %s must be a positive duration such as %s", env, d, eg)
		}
	}
	positive("HEARTBEAT_INTERVAL", c.HeartbeatInterval, "5s")
	positive("SHUTDOWN_TIMEOUT", c.ShutdownTimeout, "20s")
	positive("DEDUP_WINDOW", c.DedupWindow, "10m")
	positive("RETRY_BACKOFF", c.Retry.Backoff, "100ms")
	positive("RETRY_MAX_BACKOFF", c.Retry.MaxBackoff, "10s")
	if c.Retry.MaxBackoff < c.Retry.Backoff {
		bad("RETRY_MAX_BACKOFF: %s is below RETRY_BACKOFF %s", c.Retry.MaxBackoff, c.Retry.Backoff)
	}
	if c.DedupSize < 0 {
		bad("DEDUP_SIZE: %d must be a positive number of keys", c.DedupSize)
	}
	if c.MaxHops < 0 {
		bad("MAX_HOPS: %d must be a positive integer", c.MaxHops)
	}
	if c.MaxEventBytes < 0 {
		bad("MAX_EVENT_BYTES: %d must be a positive number of bytes", c.MaxEventBytes)
	}
	if c.Retry.Attempts < 0 {
		bad("RETRY_ATTEMPTS: %d must be a positive integer (1 disables retries)", c.Retry.Attempts)
	}
	if c.MaxInFlight < 0 {
		bad("MAX_IN_FLIGHT: %d must be a positive integer", c.MaxInFlight)
	}
	if c.Concurrency < 0 || c.Concurrency > 256 {
		bad("CONCURRENCY: %d must be a positive number of workers, at most 256", c.Concurrency)
	}
	if c.MaxBatch < 0 {
		bad("MAX_BATCH: %d must be a positive number of records", c.MaxBatch)
	}
	for typ, d := range c.TTLs {
		if typ == "" || strings.ContainsAny(typ, "=, ") {
			bad("EVENT_TTLS: %q is not an event type", typ)
		}
		if d == 0 {
			bad("EVENT_TTLS: %s=%s: want a duration such as 2h (negative: never expires)", typ, d)
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL: %v", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT: %q: want json or text", c.LogFormat)
	}
	switch c.TracesExporter {
	case TracesNone, TracesOTLP, TracesConsole:
	default:
		bad("OTEL_TRACES_EXPORTER: %q: want none, otlp or console", c.TracesExporter)
	}
	if len(errs) > 0 {
		return fmt.Errorf("rivers: invalid configuration: %w", errors.Join(errs...))
	}
	return nil
}

// ttl returns the use-by duration of typ; negative means none.
func (c Config) ttl(typ string) time.Duration {
	if d, ok := c.TTLs[typ]; ok {
		return d
	}
	switch typ {
	case typeHeartbeat:
		return 3 * c.HeartbeatInterval
	case typeStarted, typeStopping:
		return time.Hour
	case typeRetirement:
		return 7 * 24 * time.Hour
	}
	return c.DefaultTTL
}

// topic resolves a logical topic through the Kafka configuration.
func (c Config) topic(t Topic) string {
	switch t {
	case Rivers, "":
		return c.Kafka.Topics.Rivers
	case Rapids:
		return c.Kafka.Topics.Rapids
	}
	return string(t)
}

// ConfigFromEnv returns the configuration of service name at version from
// the environment variables named in [Config] (and KAFKA_* through
// rapids.ConfigFromEnv), over the defaults, validated. Every error names
// the variable and says what to fix. version may be empty (see
// Config.Version).
func ConfigFromEnv(name, version string) (Config, error) {
	return configFromLookup(name, version, os.LookupEnv)
}

func configFromLookup(name, version string, lookup func(string) (string, bool)) (Config, error) {
	c := Config{Name: name, Version: version}
	var errs []error
	get := func(k string) (string, bool) {
		v, ok := lookup(k)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	str := func(k string, dst *string) {
		if v, ok := get(k); ok {
			*dst = v
		}
	}
	dur := func(k string, dst *time.Duration, eg string) {
		v, ok := get(k)
		if !ok {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration: use a Go duration such as %s", k, v, eg))
			return
		}
		*dst = d
	}
	num := func(k string, dst *int, what string) {
		v, ok := get(k)
		if !ok {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not %s", k, v, what))
			return
		}
		*dst = n
	}
	str("SERVICE_NAME", &c.Name)
	str("SERVICE_VERSION", &c.Version)
	str("SERVICE_INSTANCE", &c.Instance)
	str("KAFKA_GROUP", &c.Group)
	if v, ok := get("KAFKA_START_OFFSET"); ok {
		c.StartOffset = strings.ToLower(v)
	}
	if v, ok := get("ENSURE_TOPICS"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("ENSURE_TOPICS: %q is not a boolean: use true or false", v))
		}
		c.SkipEnsureTopics = err == nil && !b
	}
	str("HTTP_ADDR", &c.HTTPAddr)
	dur("HEARTBEAT_INTERVAL", &c.HeartbeatInterval, "5s")
	dur("SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, "20s")
	dur("DEDUP_WINDOW", &c.DedupWindow, "10m")
	num("DEDUP_SIZE", &c.DedupSize, "a positive number of keys")
	num("MAX_HOPS", &c.MaxHops, "a positive integer")
	num("MAX_EVENT_BYTES", &c.MaxEventBytes, "a positive number of bytes")
	if v, ok := get("CONTROL_KEY_FILE"); ok {
		k, err := LoadControlKey(v)
		if err != nil {
			errs = append(errs, err)
		}
		c.ControlKey = k
	}
	str("CONTROL_KEY_ID", &c.ControlKeyID)
	if v, ok := get("CONTROL_TRUST_FILE"); ok {
		b, err := os.ReadFile(v)
		if err == nil {
			c.ControlTrust, err = ParseTrust(b)
			if c.ControlTrust == nil {
				c.ControlTrust = []TrustedKey{} // an empty list still enforces
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("CONTROL_TRUST_FILE %s: %w", v, err))
		}
	}
	if v, ok := get("HANDLER_TIMEOUT"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("HANDLER_TIMEOUT: %q is not a duration: use e.g. 30s, or -1s for none", v))
		} else if d == 0 {
			errs = append(errs, fmt.Errorf("HANDLER_TIMEOUT: 0: use a duration such as 30s, or -1s for none"))
		} else {
			c.HandlerTimeout = d
		}
	}
	num("RETRY_ATTEMPTS", &c.Retry.Attempts, "a positive integer (1 disables retries)")
	dur("RETRY_BACKOFF", &c.Retry.Backoff, "100ms")
	dur("RETRY_MAX_BACKOFF", &c.Retry.MaxBackoff, "10s")
	num("MAX_IN_FLIGHT", &c.MaxInFlight, "a positive integer")
	num("CONCURRENCY", &c.Concurrency, "a positive number of workers (at most the partitions of the topics)")
	num("MAX_BATCH", &c.MaxBatch, "a positive number of records")
	if v, ok := get("EVENT_TTL"); ok {
		d, err := parseTTL(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("EVENT_TTL: %v", err))
		}
		c.DefaultTTL = d
	}
	if v, ok := get("EVENT_TTLS"); ok {
		c.TTLs = map[string]time.Duration{}
		for _, kv := range strings.Split(v, ",") {
			typ, ds, ok := strings.Cut(strings.TrimSpace(kv), "=")
			d, err := parseTTL(ds)
			if !ok || typ == "" || err != nil {
				errs = append(errs, fmt.Errorf("EVENT_TTLS: %q: want <type>=<duration>, e.g. meter.reading.v1=2h", kv))
				continue
			}
			c.TTLs[strings.TrimSpace(typ)] = d
		}
	}
	if v, ok := get("LOG_LEVEL"); ok {
		c.LogLevel = strings.ToLower(v)
	}
	if v, ok := get("LOG_FORMAT"); ok {
		c.LogFormat = strings.ToLower(v)
	}
	if v, ok := get("OTEL_TRACES_EXPORTER"); ok {
		c.TracesExporter = strings.ToLower(v)
	}
	if v, ok := get("OTEL_SDK_DISABLED"); ok && strings.EqualFold(v, "true") {
		c.TracesExporter = TracesNone
	}
	kafka, err := rapids.ConfigFromEnv()
	if err != nil {
		errs = append(errs, err)
	}
	c.Kafka = kafka
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("rivers: invalid environment: %w", errors.Join(errs...))
	}
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseTTL reads a TTL: a positive duration, or "never" (-1).
func parseTTL(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "never") {
		return -1, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 24h, or never", v)
	}
	return d, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return l, nil
}

// versionStamp is the version a release build stamps into the binary:
//
//	go build -ldflags "-X github.com/watershed-grid/watershed/rivers.versionStamp=v1.2.0"
//
// deploy/service.Dockerfile and scripts/build.sh stamp modules.txt's
// version of the service this way.
var versionStamp string

// buildVersion is the version the binary was built with, when known:
// SERVICE_VERSION, else the stamp, else the main module's version from the
// build information, else (go run, go build in a checkout) the module's
// line in the repository's modules.txt found from the working directory,
// else "0.0.0-dev" with the VCS revision when the build recorded one.
func buildVersion() string {
	if v, ok := os.LookupEnv("SERVICE_VERSION"); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	if versionStamp != "" {
		return versionStamp
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "0.0.0-dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	if wd, err := os.Getwd(); err == nil {
		if v := moduleVersion(wd, bi.Main.Path); v != "" {
			return v
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "0.0.0-dev+" + s.Value[:12]
		}
	}
	return "0.0.0-dev"
}

// moduleRoot is the path every module of the repository starts with.
const moduleRoot = "github.com/watershed-grid/watershed/"

// moduleVersion returns the version modules.txt gives the module at
// modulePath ("<dir> vX.Y.Z" lines), looking for modules.txt in dir and its
// parents; "" when there is none or it does not list the module.
func moduleVersion(dir, modulePath string) string {
	rel, ok := strings.CutPrefix(modulePath, moduleRoot)
	if !ok || rel == "" {
		return ""
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "modules.txt"))
		if err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) == 2 && f[0] == rel {
					return f[1]
				}
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// sortedTypes returns the keys of a set, sorted.
func sortedTypes(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
