package rapids

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func TestConfigFromEnvDefaults(t *testing.T) {
	c, err := configFromLookup(lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	c.Logger, want.Logger = nil, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config from an empty environment\n got %+v\nwant %+v", c, want)
	}
	if got := c.Brokers; len(got) != 1 || got[0] != "127.0.0.1:9092" {
		t.Errorf("default brokers %v", got)
	}
	if c.Compression != "lz4" || c.Linger != 5*time.Millisecond || c.Partitions != 6 || c.RiversPartitions != 3 ||
		c.ReplicationFactor != -1 || c.Retention != 7*24*time.Hour || c.Topics != (Topics{"rapids", "rivers"}) {
		t.Errorf("defaults changed: %+v", c)
	}
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("unused"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"KAFKA_BROKERS":                  " kafka-1:9092, kafka-2:9093 ,",
		"KAFKA_CLIENT_ID":                "meter-simulator",
		"KAFKA_SASL_MECHANISM":           "scram-sha-512",
		"KAFKA_SASL_USERNAME":            "watershed",
		"KAFKA_SASL_PASSWORD":            " secret with spaces ",
		"KAFKA_TLS_ENABLED":              "true",
		"KAFKA_TLS_CA_FILE":              ca,
		"KAFKA_TLS_CERT_FILE":            "/etc/kafka/client.pem",
		"KAFKA_TLS_KEY_FILE":             "/etc/kafka/client.key",
		"KAFKA_TLS_SERVER_NAME":          "kafka.internal",
		"KAFKA_TLS_INSECURE_SKIP_VERIFY": "false",
		"KAFKA_COMPRESSION":              "ZSTD",
		"KAFKA_TOPIC_RAPIDS":             "grid.rapids",
		"KAFKA_TOPIC_RIVERS":             "grid.rivers",
		"KAFKA_PARTITIONS":               "12",
		"KAFKA_RIVERS_PARTITIONS":        "4",
		"KAFKA_REPLICATION_FACTOR":       "3",
		"KAFKA_RETENTION":                "72h",
		"KAFKA_DLQ_RETENTION":            "-1ns",
		"KAFKA_BATCH_SIZE":               "500",
		"KAFKA_BATCH_BYTES":              "2097152",
		"KAFKA_LINGER":                   "20ms",
		"KAFKA_WRITE_TIMEOUT":            "5s",
		"KAFKA_DIAL_TIMEOUT":             "3s",
		"KAFKA_MAX_ATTEMPTS":             "4",
	}
	c, err := configFromLookup(lookupFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Brokers:  []string{"kafka-1:9092", "kafka-2:9093"},
		ClientID: "meter-simulator",
		SASL:     SASL{Mechanism: "SCRAM-SHA-512", Username: "watershed", Password: " secret with spaces "},
		TLS: TLS{Enabled: true, CAFile: ca, CertFile: "/etc/kafka/client.pem", KeyFile: "/etc/kafka/client.key",
			ServerName: "kafka.internal"},
		Compression:       "zstd",
		Topics:            Topics{Rapids: "grid.rapids", Rivers: "grid.rivers"},
		Partitions:        12,
		RiversPartitions:  4,
		ReplicationFactor: 3,
		Retention:         72 * time.Hour,
		DLQRetention:      -1,
		BatchSize:         500,
		BatchBytes:        2 << 20,
		Linger:            20 * time.Millisecond,
		WriteTimeout:      5 * time.Second,
		DialTimeout:       3 * time.Second,
		MaxAttempts:       4,
	}
	c.Logger = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("\n got %+v\nwant %+v", c, want)
	}
}

func TestConfigFromEnvErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string // substrings of the error
	}{
		{map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			[]string{`KAFKA_SASL_MECHANISM: "SCRAM" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`}},
		{map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN"},
			[]string{"KAFKA_SASL_USERNAME: empty", "KAFKA_SASL_PASSWORD: empty"}},
		{map[string]string{"KAFKA_SASL_USERNAME": "u"}, []string{"KAFKA_SASL_MECHANISM: empty, but a SASL username"}},
		{map[string]string{"KAFKA_BROKERS": "kafka-1"}, []string{`KAFKA_BROKERS: "kafka-1" is not host:port`}},
		{map[string]string{"KAFKA_BROKERS": "kafka-1:99999"}, []string{`KAFKA_BROKERS: "kafka-1:99999" is not host:port`}},
		{map[string]string{"KAFKA_COMPRESSION": "brotli"}, []string{`KAFKA_COMPRESSION: "brotli" is not one of none, gzip, snappy, lz4, zstd`}},
		{map[string]string{"KAFKA_TLS_ENABLED": "yes please"}, []string{`KAFKA_TLS_ENABLED: "yes please" is not a boolean`}},
		{map[string]string{"KAFKA_TLS_CA_FILE": "/ca.pem"}, []string{"KAFKA_TLS_ENABLED: false, but other KAFKA_TLS_* variables are set"}},
		{map[string]string{"KAFKA_TLS_ENABLED": "true", "KAFKA_TLS_CERT_FILE": "/c.pem"}, []string{"KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE: set both"}},
		{map[string]string{"KAFKA_PARTITIONS": "0"}, []string{`KAFKA_PARTITIONS: "0" is not a positive integer`}},
		{map[string]string{"KAFKA_PARTITIONS": "six"}, []string{`KAFKA_PARTITIONS: "six" is not a positive integer`}},
		{map[string]string{"KAFKA_REPLICATION_FACTOR": "0"}, []string{"KAFKA_REPLICATION_FACTOR: \"0\" is not a positive integer (or -1"}},
		{map[string]string{"KAFKA_RETENTION": "7d"}, []string{`KAFKA_RETENTION: "7d" is not a duration: use a Go duration such as`}},
		{map[string]string{"KAFKA_LINGER": "-5ms"}, []string{`KAFKA_LINGER: "-5ms" must be a positive duration`}},
		{map[string]string{"KAFKA_TOPIC_RAPIDS": "raw signals"}, []string{`KAFKA_TOPIC_RAPIDS: "raw signals" has ' '`}},
		{map[string]string{"KAFKA_TOPIC_RIVERS": "rapids"}, []string{`KAFKA_TOPIC_RIVERS: "rapids" is also the rapids topic`}},
		{map[string]string{"KAFKA_BATCH_BYTES": "1MiB"}, []string{`KAFKA_BATCH_BYTES: "1MiB" is not a positive number of bytes`}},
		// Several mistakes are reported together.
		{map[string]string{"KAFKA_PARTITIONS": "-1", "KAFKA_COMPRESSION": "lzma"},
			[]string{"KAFKA_PARTITIONS", "KAFKA_COMPRESSION"}},
	}
	for _, tc := range cases {
		_, err := configFromLookup(lookupFrom(tc.env))
		if err == nil {
			t.Errorf("%v: no error", tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v:\n error %q\n does not say %q", tc.env, err, w)
			}
		}
	}
}

func TestValidateReadsZeroAsDefault(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	if err := (Config{Brokers: []string{"[::1]:9092", "localhost:19092"}}).Validate(); err != nil {
		t.Errorf("IPv6 and host names: %v", err)
	}
	if err := (Config{Partitions: -3}).Validate(); err == nil || !strings.Contains(err.Error(), "KAFKA_PARTITIONS") {
		t.Errorf("negative partitions: %v", err)
	}
}

func TestTLSFileErrorsNameTheVariable(t *testing.T) {
	_, err := TLS{Enabled: true, CAFile: filepath.Join(t.TempDir(), "missing.pem")}.build()
	if err == nil || !strings.HasPrefix(err.Error(), "KAFKA_TLS_CA_FILE:") {
		t.Errorf("missing CA file: %v", err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = TLS{Enabled: true, CAFile: notPEM}.build()
	if err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("CA file without PEM: %v", err)
	}
	_, err = TLS{Enabled: true, CertFile: notPEM, KeyFile: notPEM}.build()
	if err == nil || !strings.HasPrefix(err.Error(), "KAFKA_TLS_CERT_FILE/KAFKA_TLS_KEY_FILE:") {
		t.Errorf("bad key pair: %v", err)
	}
	if cfg, err := (TLS{}).build(); cfg != nil || err != nil {
		t.Errorf("TLS off: %v, %v", cfg, err)
	}
}

func TestNewProducerRejectsBadConfig(t *testing.T) {
	_, err := NewProducer(Config{Compression: "brotli"})
	if err == nil || !strings.Contains(err.Error(), "KAFKA_COMPRESSION") {
		t.Errorf("NewProducer with a bad codec: %v", err)
	}
	_, err = NewConsumer(Config{}, "", nil)
	if err == nil || !strings.Contains(err.Error(), "empty group id") || !strings.Contains(err.Error(), "no topics") {
		t.Errorf("NewConsumer without group and topics: %v", err)
	}
	_, err = NewConsumer(Config{}, "g", []string{"t"}, WithSessionTimeout(time.Second), WithHeartbeatInterval(time.Second))
	if err == nil || !strings.Contains(err.Error(), "at most a third of the session timeout") {
		t.Errorf("NewConsumer with heartbeat = session timeout: %v", err)
	}
}

func TestWriterSettingsAreSafe(t *testing.T) {
	cfg := DefaultConfig()
	conn, err := newConnection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	codec, _ := compression(cfg.Compression)
	w := newWriter(cfg, conn, codec)
	if w.RequiredAcks != -1 {
		t.Errorf("RequiredAcks = %d, want -1 (all in-sync replicas)", w.RequiredAcks)
	}
	if w.BatchTimeout != 5*time.Millisecond {
		t.Errorf("BatchTimeout = %s, want the 5ms linger, not kafka-go's 1s", w.BatchTimeout)
	}
	if w.Compression.String() != "lz4" {
		t.Errorf("Compression = %s", w.Compression)
	}
	if w.AllowAutoTopicCreation {
		t.Error("the producer must not create topics by publishing to them")
	}
}
