package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"net/url"
	"os"
	"strings"
	"time"
)

// Name is the service's name: its ce_source is /services/mqtt-gateway.
const Name = "mqtt-gateway"

// Config configures the gateway. Each field names its environment variable
// and default (also listed in doc.go).
type Config struct {
	// URL of the MQTT broker: tcp:// or mqtt:// (plain), ssl://, tls:// or
	// mqtts:// (TLS), ws:// or wss://. MQTT_URL, default tcp://127.0.0.1:1883.
	URL string
	// Topic is the subscription filter; its first "+" is the meter id when
	// a payload has none. MQTT_TOPIC, default meters/+/reading.
	Topic string
	// QoS of the subscription, 0, 1 or 2. MQTT_QOS, default 1.
	QoS int
	// ClientID must be unique per broker and stable across restarts, so the
	// broker keeps the session (and the messages queued while the gateway
	// was away). MQTT_CLIENT_ID, default "watershed-mqtt-gateway".
	ClientID string
	// Username and Password. MQTT_USERNAME, MQTT_PASSWORD; default none.
	Username, Password string
	// TLS: MQTT_TLS_CA_FILE, MQTT_TLS_CERT_FILE, MQTT_TLS_KEY_FILE,
	// MQTT_TLS_SERVER_NAME, MQTT_TLS_INSECURE_SKIP_VERIFY; used with a TLS
	// scheme.
	CAFile, CertFile, KeyFile, ServerName string
	InsecureSkipVerify                    bool
	// SessionExpiry is how long the broker keeps the session while the
	// gateway is disconnected. MQTT_SESSION_EXPIRY, default 1h.
	SessionExpiry time.Duration
	// KeepAlive. MQTT_KEEPALIVE, default 30s.
	KeepAlive time.Duration
	// ReconnectBackoff is the wait between connection attempts (doubling up
	// to 10× this). MQTT_RECONNECT_BACKOFF, default 1s.
	ReconnectBackoff time.Duration
	// MaxInFlight bounds the MQTT messages being published to the rapids at
	// once (each is acknowledged to the broker once Kafka stored it).
	// GATEWAY_MAX_IN_FLIGHT, default 256.
	MaxInFlight int
	// LeaseTimeout: the MQTT connection is closed when the service's
	// "mqtt" timer has not run for this long (the service stopped).
	// GATEWAY_LEASE_TIMEOUT, default 5s.
	LeaseTimeout time.Duration

	// Downlink turns on commands to devices: meter.command.v1 from
	// CommandSource, for a meter this gateway has received readings from,
	// is published to CommandTopic; device acks on AckTopic become
	// meter.command.ack.v1. GATEWAY_DOWNLINK, default true.
	Downlink bool
	// CommandTopic is where a command goes, {meter} replaced by its meter
	// id. MQTT_COMMAND_TOPIC, default meters/{meter}/commands.
	CommandTopic string
	// AckTopic is the filter the devices' acks arrive on; its + stands for
	// the meter id. MQTT_ACK_TOPIC, default meters/+/acks.
	AckTopic string
	// CommandSource is the only ce_source whose commands are forwarded;
	// others are dead-lettered. GATEWAY_COMMAND_SOURCE, default
	// /services/command-dispatcher.
	CommandSource string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		URL:              "tcp://127.0.0.1:1883",
		Topic:            "meters/+/reading",
		QoS:              1,
		ClientID:         "watershed-mqtt-gateway",
		SessionExpiry:    time.Hour,
		KeepAlive:        30 * time.Second,
		ReconnectBackoff: time.Second,
		MaxInFlight:      256,
		LeaseTimeout:     5 * time.Second,
		Downlink:         true,
		CommandTopic:     "meters/{meter}/commands",
		AckTopic:         "meters/+/acks",
		CommandSource:    "/services/command-dispatcher",
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("mqtt-gateway: invalid configuration")

// Validate reports the first bad setting, naming its variable.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: MQTT_URL=%q: want a URL such as tcp://127.0.0.1:1883", ErrConfig, redactURL(c.URL))
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return fmt.Errorf("%w: MQTT_URL=%q: scheme %q: want tcp, mqtt, ssl, tls, mqtts, ws or wss", ErrConfig, redactURL(c.URL), u.Scheme)
	}
	switch {
	case c.Topic == "" || strings.Contains(c.Topic, "#") && !strings.HasSuffix(c.Topic, "#"):
		return fmt.Errorf("%w: MQTT_TOPIC=%q: want a topic filter such as meters/+/reading", ErrConfig, c.Topic)
	case c.Downlink && (strings.Count(c.CommandTopic, "{meter}") != 1 || strings.ContainsAny(c.CommandTopic, "+#")):
		return fmt.Errorf("%w: MQTT_COMMAND_TOPIC=%q: want a topic with {meter} once and no wildcard, such as meters/{meter}/commands", ErrConfig, c.CommandTopic)
	case c.Downlink && (strings.Count(c.AckTopic, "+") != 1 || strings.Contains(c.AckTopic, "#")):
		return fmt.Errorf("%w: MQTT_ACK_TOPIC=%q: want a filter with one + for the meter id, such as meters/+/acks", ErrConfig, c.AckTopic)
	case c.Downlink && c.CommandSource == "":
		return fmt.Errorf("%w: GATEWAY_COMMAND_SOURCE is empty: name the ce_source whose commands go to devices", ErrConfig)
	case c.QoS < 0 || c.QoS > 2:
		return fmt.Errorf("%w: MQTT_QOS=%d: want 0, 1 or 2", ErrConfig, c.QoS)
	case c.ClientID == "" || len(c.ClientID) > 128:
		return fmt.Errorf("%w: MQTT_CLIENT_ID=%q: want 1..128 characters", ErrConfig, c.ClientID)
	case c.SessionExpiry < 0 || c.SessionExpiry > 136*365*24*time.Hour:
		return fmt.Errorf("%w: MQTT_SESSION_EXPIRY=%s: want a non-negative duration", ErrConfig, c.SessionExpiry)
	case c.KeepAlive < time.Second || c.KeepAlive > 18*time.Hour:
		return fmt.Errorf("%w: MQTT_KEEPALIVE=%s: want 1s..18h", ErrConfig, c.KeepAlive)
	case c.ReconnectBackoff <= 0:
		return fmt.Errorf("%w: MQTT_RECONNECT_BACKOFF=%s: want a positive duration", ErrConfig, c.ReconnectBackoff)
	case c.MaxInFlight < 1:
		return fmt.Errorf("%w: GATEWAY_MAX_IN_FLIGHT=%d: want a positive count", ErrConfig, c.MaxInFlight)
	case c.LeaseTimeout < 500*time.Millisecond:
		return fmt.Errorf("%w: GATEWAY_LEASE_TIMEOUT=%s: want at least 500ms", ErrConfig, c.LeaseTimeout)
	case (c.CertFile == "") != (c.KeyFile == ""):
		return fmt.Errorf("%w: MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE go together", ErrConfig)
	}
	return nil
}

// tlsConfig builds the TLS settings, nil when none are given.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && c.ServerName == "" && !c.InsecureSkipVerify {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in, documented
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: MQTT_TLS_CA_FILE: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: MQTT_TLS_CA_FILE=%s: no PEM certificate", ErrConfig, c.CAFile)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: MQTT_TLS_CERT_FILE/MQTT_TLS_KEY_FILE: %w", ErrConfig, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// ConfigFromEnv reads the MQTT_* and GATEWAY_* variables over DefaultConfig.
func ConfigFromEnv() (Config, error) { return configFromLookup(os.LookupEnv) }

func configFromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := DefaultConfig()
	r := env.Lookup(lookup)
	for _, s := range []struct {
		env string
		dst *string
	}{
		{"MQTT_URL", &c.URL}, {"MQTT_TOPIC", &c.Topic}, {"MQTT_CLIENT_ID", &c.ClientID},
		{"MQTT_USERNAME", &c.Username},
		{"MQTT_TLS_CA_FILE", &c.CAFile}, {"MQTT_TLS_CERT_FILE", &c.CertFile}, {"MQTT_TLS_KEY_FILE", &c.KeyFile},
		{"MQTT_TLS_SERVER_NAME", &c.ServerName},
		{"MQTT_COMMAND_TOPIC", &c.CommandTopic}, {"MQTT_ACK_TOPIC", &c.AckTopic}, {"GATEWAY_COMMAND_SOURCE", &c.CommandSource},
	} {
		r.String(s.env, s.dst)
	}
	// A password is taken as it is: spaces may be part of it.
	if v, ok := lookup("MQTT_PASSWORD"); ok && v != "" {
		c.Password = v
	}
	r.Int("MQTT_QOS", &c.QoS)
	r.Int("GATEWAY_MAX_IN_FLIGHT", &c.MaxInFlight)
	r.Duration("MQTT_SESSION_EXPIRY", &c.SessionExpiry)
	r.Duration("MQTT_KEEPALIVE", &c.KeepAlive)
	r.Duration("MQTT_RECONNECT_BACKOFF", &c.ReconnectBackoff)
	r.Duration("GATEWAY_LEASE_TIMEOUT", &c.LeaseTimeout)
	r.Bool("GATEWAY_DOWNLINK", &c.Downlink)
	r.Bool("MQTT_TLS_INSECURE_SKIP_VERIFY", &c.InsecureSkipVerify)
	if err := r.Err(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, c.Validate()
}

// redactURL returns s with the password of its user information replaced
// by "xxxxx", for messages and logs; it works on strings that do not parse
// as URLs too, which is when an error message quotes them.
func redactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return s
	}
	user := rest[:at]
	if c := strings.IndexByte(user, ':'); c >= 0 {
		user = user[:c] + ":xxxxx"
	}
	return s[:i+3] + user + rest[at:]
}
