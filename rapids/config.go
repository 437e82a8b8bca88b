package rapids

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config. Every one of them is also the default of the
// environment variable that sets it (see the package documentation).
const (
	DefaultBroker            = "127.0.0.1:9092"
	DefaultClientID          = "watershed"
	DefaultCompression       = "lz4"
	DefaultRapidsTopic       = "rapids"
	DefaultRiversTopic       = "rivers"
	DefaultPartitions        = 6
	DefaultRiversPartitions  = 3
	DefaultReplicationFactor = -1 // the broker's default.replication.factor
	DefaultRetention         = 7 * 24 * time.Hour
	DefaultDLQRetention      = 30 * 24 * time.Hour
	DefaultBatchSize         = 1000
	DefaultBatchBytes        = 1 << 20
	DefaultLinger            = 5 * time.Millisecond
	DefaultWriteTimeout      = 10 * time.Second
	DefaultDialTimeout       = 10 * time.Second
	DefaultMaxAttempts       = 10
)

// DLQSuffix is appended to a topic name to name its dead-letter topic.
const DLQSuffix = ".dlq"

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Compression codecs accepted by Config.Compression.
var compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

var saslMechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512}

// Config is how Watershed connects to Kafka. Load it once in main with
// ConfigFromEnv (or start from DefaultConfig), then Validate it. The zero
// value of a field means its default, so a partly filled Config literal works.
type Config struct {
	// Brokers are the bootstrap "host:port" addresses. Default 127.0.0.1:9092.
	Brokers []string
	// ClientID names this client in broker logs and quotas. Default "watershed".
	ClientID string

	// SASL authentication; the zero value means none.
	SASL SASL
	// TLS for broker connections; the zero value means plaintext.
	TLS TLS

	// Compression codec of produced batches: none, gzip, snappy, lz4 or zstd.
	// Default lz4: the cheapest codec in CPU per byte saved, which matters
	// more than ratio on the high-volume rapids (see README).
	Compression string

	// Topics names the two topics; their dead-letter topics add ".dlq".
	Topics Topics

	// Partitions is the partition count of the rapids topic. Default 6.
	Partitions int
	// RiversPartitions is the partition count of the rivers topic and of
	// both dead-letter topics. Default 3.
	RiversPartitions int
	// ReplicationFactor of created topics; -1 (the default) leaves it to the
	// broker's default.replication.factor.
	ReplicationFactor int
	// Retention of records in rapids and rivers. Default 7 days. A negative
	// value means forever (retention.ms=-1).
	Retention time.Duration
	// DLQRetention of records in the dead-letter topics. Default 30 days, so
	// someone has time to look. A negative value means forever.
	DLQRetention time.Duration

	// BatchSize is the most records the producer puts in one batch per
	// partition. Default 1000.
	BatchSize int
	// BatchBytes is the most bytes of one produced batch, and so also the
	// largest record the producer accepts. Default 1 MiB (Kafka's default
	// message.max.bytes).
	BatchBytes int64
	// Linger is how long the producer waits to fill a batch before sending
	// it. Default 5ms: a lone record is not held for kafka-go's 1s default,
	// and concurrent publishers still share batches (Java's linger.ms is 5ms
	// since Kafka 4.0).
	Linger time.Duration
	// WriteTimeout bounds one produce request. Default 10s.
	WriteTimeout time.Duration
	// DialTimeout bounds opening one broker connection. Default 10s.
	DialTimeout time.Duration
	// MaxAttempts is how often the producer tries a batch that failed with a
	// retryable error before Publish returns it. Default 10.
	MaxAttempts int

	// Logger receives the client's warnings and errors (not from the
	// environment). Default slog.Default().
	Logger *slog.Logger
}

// Topics names Watershed's topics.
type Topics struct {
	Rapids string // raw signals; default "rapids"
	Rivers string // business and system events; default "rivers"
}

// DLQ returns the dead-letter topic of topic: topic + ".dlq".
func DLQ(topic string) string { return topic + DLQSuffix }

// SASL configures SASL authentication. Mechanism "" disables it.
type SASL struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Username  string
	Password  string
}

// TLS configures TLS. Nothing is used unless Enabled.
type TLS struct {
	Enabled bool
	// CAFile is a PEM bundle of CAs to trust; empty means the system pool.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key, for mTLS.
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string
	// InsecureSkipVerify disables certificate verification. Tests only.
	InsecureSkipVerify bool
}

// DefaultConfig returns the configuration used when no variable is set.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with every zero field set to its default, e.g. so
// c.Topics.Rapids names the rapids topic.
func (c Config) WithDefaults() Config {
	if len(c.Brokers) == 0 {
		c.Brokers = []string{DefaultBroker}
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Compression == "" {
		c.Compression = DefaultCompression
	}
	if c.Topics.Rapids == "" {
		c.Topics.Rapids = DefaultRapidsTopic
	}
	if c.Topics.Rivers == "" {
		c.Topics.Rivers = DefaultRiversTopic
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.RiversPartitions == 0 {
		c.RiversPartitions = DefaultRiversPartitions
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = DefaultReplicationFactor
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.DLQRetention == 0 {
		c.DLQRetention = DefaultDLQRetention
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ConfigFromEnv reads the KAFKA_* environment variables listed in the
// package documentation over DefaultConfig, and validates the result. Every
// error names the variable and says what to fix.
func ConfigFromEnv() (Config, error) { return configFromLookup(os.LookupEnv) }

func configFromLookup(lookup func(string) (string, bool)) (Config, error) {
	var c Config
	var errs []error
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	str := func(name string, dst *string) {
		if v, ok := get(name); ok {
			*dst = v
		}
	}
	integer := func(name string, dst *int, min int, what string) {
		v, ok := get(name)
		if !ok {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s: %q is not %s", name, v, what))
			return
		}
		*dst = n
	}
	duration := func(name string, dst *time.Duration, allowNegative bool) {
		v, ok := get(name)
		if !ok {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration: use a Go duration such as 500ms, 30s or 168h", name, v))
			return
		}
		if d == 0 || (d < 0 && !allowNegative) {
			want := "a positive duration"
			if allowNegative {
				want += " (or -1ns for forever)"
			}
			errs = append(errs, fmt.Errorf("%s: %q must be %s", name, v, want))
			return
		}
		*dst = d
	}
	boolean := func(name string, dst *bool) {
		v, ok := get(name)
		if !ok {
			return
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a boolean: use true or false", name, v))
			return
		}
		*dst = b
	}

	if v, ok := get("KAFKA_BROKERS"); ok {
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Brokers = append(c.Brokers, b)
			}
		}
	}
	str("KAFKA_CLIENT_ID", &c.ClientID)
	if v, ok := get("KAFKA_SASL_MECHANISM"); ok {
		c.SASL.Mechanism = strings.ToUpper(v)
	}
	str("KAFKA_SASL_USERNAME", &c.SASL.Username)
	if v, ok := lookup("KAFKA_SASL_PASSWORD"); ok { // passwords keep their spaces
		c.SASL.Password = v
	}
	boolean("KAFKA_TLS_ENABLED", &c.TLS.Enabled)
	str("KAFKA_TLS_CA_FILE", &c.TLS.CAFile)
	str("KAFKA_TLS_CERT_FILE", &c.TLS.CertFile)
	str("KAFKA_TLS_KEY_FILE", &c.TLS.KeyFile)
	str("KAFKA_TLS_SERVER_NAME", &c.TLS.ServerName)
	boolean("KAFKA_TLS_INSECURE_SKIP_VERIFY", &c.TLS.InsecureSkipVerify)
	if v, ok := get("KAFKA_COMPRESSION"); ok {
		c.Compression = strings.ToLower(v)
	}
	str("KAFKA_TOPIC_RAPIDS", &c.Topics.Rapids)
	str("KAFKA_TOPIC_RIVERS", &c.Topics.Rivers)
	integer("KAFKA_PARTITIONS", &c.Partitions, 1, "a positive integer")
	integer("KAFKA_RIVERS_PARTITIONS", &c.RiversPartitions, 1, "a positive integer")
	if v, ok := get("KAFKA_REPLICATION_FACTOR"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || (n < 1 && n != -1) {
			errs = append(errs, fmt.Errorf("KAFKA_REPLICATION_FACTOR: %q is not a positive integer (or -1 for the broker's default)", v))
		} else {
			c.ReplicationFactor = n
		}
	}
	duration("KAFKA_RETENTION", &c.Retention, true)
	duration("KAFKA_DLQ_RETENTION", &c.DLQRetention, true)
	integer("KAFKA_BATCH_SIZE", &c.BatchSize, 1, "a positive integer")
	if v, ok := get("KAFKA_BATCH_BYTES"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("KAFKA_BATCH_BYTES: %q is not a positive number of bytes", v))
		} else {
			c.BatchBytes = n
		}
	}
	duration("KAFKA_LINGER", &c.Linger, false)
	duration("KAFKA_WRITE_TIMEOUT", &c.WriteTimeout, false)
	duration("KAFKA_DIAL_TIMEOUT", &c.DialTimeout, false)
	integer("KAFKA_MAX_ATTEMPTS", &c.MaxAttempts, 1, "a positive integer")

	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// Validate reports every problem of c, each naming the environment variable
// that sets the field and what to fix. Zero fields are read as their
// defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			bad("KAFKA_BROKERS: %q is not host:port: list brokers as host:port separated by commas, e.g. kafka-1:9092,kafka-2:9092", redactBroker(b))
		}
	}
	if m := c.SASL.Mechanism; m != "" {
		if !slices.Contains(saslMechanisms, m) {
			bad("KAFKA_SASL_MECHANISM: %q is not one of %s", m, strings.Join(saslMechanisms, ", "))
		}
		if c.SASL.Username == "" {
			bad("KAFKA_SASL_USERNAME: empty, but KAFKA_SASL_MECHANISM=%s needs a username", m)
		}
		if c.SASL.Password == "" {
			bad("KAFKA_SASL_PASSWORD: empty, but KAFKA_SASL_MECHANISM=%s needs a password", m)
		}
	} else if c.SASL.Username != "" || c.SASL.Password != "" {
		bad("KAFKA_SASL_MECHANISM: empty, but a SASL username or password is set: set it to one of %s", strings.Join(saslMechanisms, ", "))
	}
	if !c.TLS.Enabled && (c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.KeyFile != "" || c.TLS.ServerName != "" || c.TLS.InsecureSkipVerify) {
		bad("KAFKA_TLS_ENABLED: false, but other KAFKA_TLS_* variables are set: set KAFKA_TLS_ENABLED=true or unset them")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE: set both for a client certificate, or neither")
	}
	if !slices.Contains(compressions, c.Compression) {
		bad("KAFKA_COMPRESSION: %q is not one of %s", c.Compression, strings.Join(compressions, ", "))
	}
	checkTopic := func(env, name string) {
		if err := validTopicName(name); err != nil {
			bad("%s: %v", env, err)
		}
	}
	checkTopic("KAFKA_TOPIC_RAPIDS", c.Topics.Rapids)
	checkTopic("KAFKA_TOPIC_RIVERS", c.Topics.Rivers)
	if c.Topics.Rapids == c.Topics.Rivers {
		bad("KAFKA_TOPIC_RIVERS: %q is also the rapids topic: the two topics must differ", c.Topics.Rivers)
	}
	if c.Partitions < 1 {
		bad("KAFKA_PARTITIONS: %d is not a positive integer", c.Partitions)
	}
	if c.RiversPartitions < 1 {
		bad("KAFKA_RIVERS_PARTITIONS: %d is not a positive integer", c.RiversPartitions)
	}
	if c.ReplicationFactor < 1 && c.ReplicationFactor != -1 {
		bad("KAFKA_REPLICATION_FACTOR: %d is not a positive integer (or -1 for the broker's default)", c.ReplicationFactor)
	}
	if c.BatchSize < 1 {
		bad("KAFKA_BATCH_SIZE: %d is not a positive integer", c.BatchSize)
	}
	if c.BatchBytes < 1 {
		bad("KAFKA_BATCH_BYTES: %d is not a positive number of bytes", c.BatchBytes)
	}
	if c.Linger < 0 {
		bad("KAFKA_LINGER: %s must be a positive duration such as 5ms", c.Linger)
	}
	if c.WriteTimeout < 0 {
		bad("KAFKA_WRITE_TIMEOUT: %s must be a positive duration such as 10s", c.WriteTimeout)
	}
	if c.DialTimeout < 0 {
		bad("KAFKA_DIAL_TIMEOUT: %s must be a positive duration such as 10s", c.DialTimeout)
	}
	if c.MaxAttempts < 1 {
		bad("KAFKA_MAX_ATTEMPTS: %d is not a positive integer", c.MaxAttempts)
	}
	return errors.Join(errs...)
}

// validTopicName applies Kafka's topic name rules.
func validTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("empty topic name")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a valid topic name", name)
	case len(name) > 249-len(DLQSuffix):
		return fmt.Errorf("%q is longer than %d characters (its dead-letter topic adds %q)", name, 249-len(DLQSuffix), DLQSuffix)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q has %q: topic names use only letters, digits, '.', '_' and '-'", name, r)
		}
	}
	return nil
}

// redactBroker hides what a broker entry carries before an '@' (credentials
// written as user:password@host:port), for messages: Kafka takes them from
// KAFKA_SASL_* only.
func redactBroker(b string) string {
	if at := strings.LastIndexByte(b, '@'); at >= 0 {
		scheme := ""
		if i := strings.Index(b[:at], "://"); i >= 0 {
			scheme = b[:i+3]
		}
		return scheme + "xxxxx" + b[at:]
	}
	return b
}
