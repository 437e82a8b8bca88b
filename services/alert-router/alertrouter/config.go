package alertrouter

import (
	"errors"
	"fmt"
	envreader "github.com/watershed-grid/watershed/rivers/env"
	"os"
	"strconv"
	"strings"
	"time"
)

// Name is the service name.
const Name = "alert-router"

// Environment variables of the alert-router (besides the SDK's and, for the
// Redis store, ponds/hot's REDIS_*).
const (
	EnvRulesFile         = "ALERT_RULES_FILE"
	EnvWebhookURL        = "ALERT_WEBHOOK_URL"
	EnvWebhookSecret     = "ALERT_WEBHOOK_SECRET"
	EnvStore             = "ALERT_STORE"
	EnvRedisPrefix       = "ALERT_REDIS_PREFIX"
	EnvGroupWait         = "ALERT_GROUP_WAIT"
	EnvGroupInterval     = "ALERT_GROUP_INTERVAL"
	EnvRepeatInterval    = "ALERT_REPEAT_INTERVAL"
	EnvTick              = "ALERT_TICK"
	EnvResolvedRetention = "ALERT_RESOLVED_RETENTION"
	EnvDeliveryAttempts  = "ALERT_DELIVERY_ATTEMPTS"
	EnvDeliveryBackoff   = "ALERT_DELIVERY_BACKOFF"
	EnvDeliveryMaxWait   = "ALERT_DELIVERY_MAX_BACKOFF"
	EnvDeliveryTimeout   = "ALERT_DELIVERY_TIMEOUT"
	EnvHistory           = "ALERT_HISTORY"
	EnvMaxAlerts         = "ALERT_MAX_ALERTS"
	EnvSMTPAddr          = "ALERT_SMTP_ADDR"
	EnvSMTPFrom          = "ALERT_SMTP_FROM"
	EnvSMTPUsername      = "ALERT_SMTP_USERNAME"
	EnvSMTPPassword      = "ALERT_SMTP_PASSWORD"
	EnvDLQTopics         = "ALERT_DLQ_TOPICS"
	EnvDLQInterval       = "ALERT_DLQ_INTERVAL"
	EnvDLQMinGrowth      = "ALERT_DLQ_MIN_GROWTH"
	EnvDLQQuiet          = "ALERT_DLQ_QUIET"
)

// DefaultReceiver is the receiver (and route) ALERT_WEBHOOK_URL adds.
const DefaultReceiver = "default-webhook"

// Store kinds (ALERT_STORE).
const (
	StoreRedis  = "redis"
	StoreMemory = "memory"
)

// Config is the alert-router's own configuration. Zero fields take the
// defaults below.
type Config struct {
	// RulesFile is the YAML rules file; empty: the built-in alerts only
	// (ALERT_RULES_FILE).
	RulesFile string
	// WebhookURL, when set, receives every alert: a route that matches
	// everything and continues (ALERT_WEBHOOK_URL).
	WebhookURL string
	// Store is "redis" (default, durable: REDIS_URL...) or "memory" (tests;
	// a restart forgets everything) (ALERT_STORE).
	Store string
	// RedisPrefix prefixes the service's Redis keys. Default
	// "ws:alert-router:" (ALERT_REDIS_PREFIX).
	RedisPrefix string
	// GroupWait is how long a new group waits for more alerts before its
	// first notification. Default 10s (ALERT_GROUP_WAIT).
	GroupWait time.Duration
	// GroupInterval is the least time between two notifications of a group
	// that changed. Default 1m (ALERT_GROUP_INTERVAL).
	GroupInterval time.Duration
	// RepeatInterval re-sends a group whose alerts still fire. Default 4h
	// (ALERT_REPEAT_INTERVAL).
	RepeatInterval time.Duration
	// Tick is how often groups, timeouts and deliveries are looked at.
	// Default 1s (ALERT_TICK).
	Tick time.Duration
	// ResolvedRetention keeps resolved alerts listable. Default 24h
	// (ALERT_RESOLVED_RETENTION).
	ResolvedRetention time.Duration
	// DeliveryAttempts before a notification is dead-lettered. Default 6
	// (ALERT_DELIVERY_ATTEMPTS).
	DeliveryAttempts int
	// DeliveryBackoff is the wait after the first failed attempt, doubled
	// after each, up to DeliveryMaxBackoff. Defaults 2s, 5m
	// (ALERT_DELIVERY_BACKOFF, ALERT_DELIVERY_MAX_BACKOFF).
	DeliveryBackoff    time.Duration
	DeliveryMaxBackoff time.Duration
	// DeliveryTimeout bounds one attempt. Default 10s (ALERT_DELIVERY_TIMEOUT).
	DeliveryTimeout time.Duration
	// History is how many deliveries are kept for GET /v1/deliveries.
	// Default 1000 (ALERT_HISTORY).
	History int
	// MaxAlerts caps the alerts listed in one notification (the rest are
	// counted). Default 50 (ALERT_MAX_ALERTS).
	MaxAlerts int
	// SMTP defaults of email receivers (ALERT_SMTP_ADDR host:port,
	// ALERT_SMTP_FROM default "watershed@localhost", ALERT_SMTP_USERNAME,
	// ALERT_SMTP_PASSWORD).
	SMTPAddr, SMTPFrom, SMTPUsername, SMTPPassword string
	// DLQTopics are watched for growth. Default: the dead-letter topics of
	// the rivers and the rapids (ALERT_DLQ_TOPICS, comma-separated).
	DLQTopics []string
	// DLQInterval is how often their end offsets are read; negative turns
	// the watch off. Default 30s (ALERT_DLQ_INTERVAL).
	DLQInterval time.Duration
	// DLQMinGrowth letters in one interval raise dlq_growing. Default 1
	// (ALERT_DLQ_MIN_GROWTH).
	DLQMinGrowth int64
	// DLQQuiet without growth resolves it. Default 10m (ALERT_DLQ_QUIET).
	DLQQuiet time.Duration
}

// Defaults of Config.
const (
	DefaultRedisPrefix        = "ws:alert-router:"
	DefaultGroupWait          = 10 * time.Second
	DefaultGroupInterval      = time.Minute
	DefaultRepeatInterval     = 4 * time.Hour
	DefaultTick               = time.Second
	DefaultResolvedRetention  = 24 * time.Hour
	DefaultDeliveryAttempts   = 6
	DefaultDeliveryBackoff    = 2 * time.Second
	DefaultDeliveryMaxBackoff = 5 * time.Minute
	DefaultDeliveryTimeout    = 10 * time.Second
	DefaultHistory            = 1000
	DefaultMaxAlerts          = 50
	DefaultSMTPFrom           = "watershed@localhost"
	DefaultDLQInterval        = 30 * time.Second
	DefaultDLQMinGrowth       = 1
	DefaultDLQQuiet           = 10 * time.Minute
)

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Store == "" {
		c.Store = StoreRedis
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = DefaultRedisPrefix
	}
	def(&c.GroupWait, DefaultGroupWait)
	def(&c.GroupInterval, DefaultGroupInterval)
	def(&c.RepeatInterval, DefaultRepeatInterval)
	def(&c.Tick, DefaultTick)
	def(&c.ResolvedRetention, DefaultResolvedRetention)
	def(&c.DeliveryBackoff, DefaultDeliveryBackoff)
	def(&c.DeliveryMaxBackoff, DefaultDeliveryMaxBackoff)
	def(&c.DeliveryTimeout, DefaultDeliveryTimeout)
	def(&c.DLQInterval, DefaultDLQInterval)
	def(&c.DLQQuiet, DefaultDLQQuiet)
	if c.DeliveryAttempts == 0 {
		c.DeliveryAttempts = DefaultDeliveryAttempts
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.MaxAlerts == 0 {
		c.MaxAlerts = DefaultMaxAlerts
	}
	if c.SMTPFrom == "" {
		c.SMTPFrom = DefaultSMTPFrom
	}
	if c.DLQMinGrowth == 0 {
		c.DLQMinGrowth = DefaultDLQMinGrowth
	}
	return c
}

// Validate reports every invalid field, naming its variable.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Store != StoreRedis && c.Store != StoreMemory {
		errs = append(errs, fmt.Errorf("%s: %q: want redis or memory", EnvStore, c.Store))
	}
	if c.WebhookURL != "" && !strings.HasPrefix(c.WebhookURL, "http://") && !strings.HasPrefix(c.WebhookURL, "https://") {
		errs = append(errs, fmt.Errorf("%s: %q: want an http:// or https:// URL", EnvWebhookURL, c.WebhookURL))
	}
	for name, d := range map[string]time.Duration{EnvGroupWait: c.GroupWait, EnvGroupInterval: c.GroupInterval,
		EnvRepeatInterval: c.RepeatInterval, EnvTick: c.Tick, EnvResolvedRetention: c.ResolvedRetention,
		EnvDeliveryBackoff: c.DeliveryBackoff, EnvDeliveryMaxWait: c.DeliveryMaxBackoff,
		EnvDeliveryTimeout: c.DeliveryTimeout, EnvDLQQuiet: c.DLQQuiet} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: %s must not be negative", name, d))
		}
	}
	if c.DeliveryAttempts < 1 {
		errs = append(errs, fmt.Errorf("%s: %d must be at least 1", EnvDeliveryAttempts, c.DeliveryAttempts))
	}
	if c.History < 1 || c.MaxAlerts < 1 || c.DLQMinGrowth < 1 {
		errs = append(errs, fmt.Errorf("%s, %s and %s must be at least 1", EnvHistory, EnvMaxAlerts, EnvDLQMinGrowth))
	}
	return errors.Join(errs...)
}

// ConfigFromEnv reads the ALERT_* variables over the defaults and validates.
func ConfigFromEnv() (Config, error) {
	var c Config
	r := envreader.New()
	r.String(EnvRulesFile, &c.RulesFile)
	r.String(EnvWebhookURL, &c.WebhookURL)
	r.String(EnvStore, &c.Store)
	r.String(EnvRedisPrefix, &c.RedisPrefix)
	r.String(EnvSMTPAddr, &c.SMTPAddr)
	r.String(EnvSMTPFrom, &c.SMTPFrom)
	r.String(EnvSMTPUsername, &c.SMTPUsername)
	c.SMTPPassword = os.Getenv(EnvSMTPPassword) // as it is: spaces may be part of it
	r.Duration(EnvGroupWait, &c.GroupWait)
	r.Duration(EnvGroupInterval, &c.GroupInterval)
	r.Duration(EnvRepeatInterval, &c.RepeatInterval)
	r.Duration(EnvTick, &c.Tick)
	r.Duration(EnvResolvedRetention, &c.ResolvedRetention)
	r.Duration(EnvDeliveryBackoff, &c.DeliveryBackoff)
	r.Duration(EnvDeliveryMaxWait, &c.DeliveryMaxBackoff)
	r.Duration(EnvDeliveryTimeout, &c.DeliveryTimeout)
	r.Duration(EnvDLQInterval, &c.DLQInterval)
	r.Duration(EnvDLQQuiet, &c.DLQQuiet)
	r.Int(EnvDeliveryAttempts, &c.DeliveryAttempts)
	r.Int(EnvHistory, &c.History)
	r.Int(EnvMaxAlerts, &c.MaxAlerts)
	r.Func(EnvDLQMinGrowth, func(v string) (err error) {
		if c.DLQMinGrowth, err = strconv.ParseInt(v, 10, 64); err != nil {
			return errors.New("want an integer")
		}
		return nil
	})
	r.List(EnvDLQTopics, &c.DLQTopics)
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	c = c.withDefaults()
	return c, c.Validate()
}
