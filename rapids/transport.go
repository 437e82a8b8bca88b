package rapids

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// connection is what every kafka-go object of one Config shares: the
// authentication, TLS and timeouts. The Writer and admin Client use the
// Transport; the Reader uses the Dialer.
type connection struct {
	transport *kafka.Transport
	dialer    *kafka.Dialer
	addr      net.Addr
}

func newConnection(c Config) (*connection, error) {
	tlsCfg, err := c.TLS.build()
	if err != nil {
		return nil, err
	}
	mech, err := c.SASL.build()
	if err != nil {
		return nil, err
	}
	nd := &net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second}
	return &connection{
		transport: &kafka.Transport{
			Dial:        nd.DialContext,
			DialTimeout: c.DialTimeout,
			IdleTimeout: 5 * time.Minute,
			MetadataTTL: 6 * time.Second,
			ClientID:    c.ClientID,
			TLS:         tlsCfg,
			SASL:        mech,
		},
		dialer: &kafka.Dialer{
			ClientID:      c.ClientID,
			Timeout:       c.DialTimeout,
			DualStack:     true,
			KeepAlive:     30 * time.Second,
			TLS:           tlsCfg,
			SASLMechanism: mech,
		},
		addr: kafka.TCP(c.Brokers...),
	}, nil
}

func (c *connection) close() { c.transport.CloseIdleConnections() }

// build returns the SASL mechanism, or nil when none is configured.
func (s SASL) build() (sasl.Mechanism, error) {
	switch s.Mechanism {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case SASLScramSHA256, SASLScramSHA512:
		algo := scram.SHA256
		if s.Mechanism == SASLScramSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD: %s: %w", s.Mechanism, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("KAFKA_SASL_MECHANISM: %q is not one of %s, %s, %s", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
}

// build returns the TLS configuration, or nil when TLS is off. File errors
// name the variable to fix.
func (t TLS) build() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, // an explicit opt-in, documented as for tests only
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("KAFKA_TLS_CA_FILE: %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CERT_FILE/KAFKA_TLS_KEY_FILE: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// compression maps Config.Compression to kafka-go's codec.
func compression(name string) (kafka.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("KAFKA_COMPRESSION: %q is not one of none, gzip, snappy, lz4, zstd", name)
}
