package rapids

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
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
	sasl      SASL // for error messages: mechanism and user, never the password
	timeout   time.Duration
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
		addr:    kafka.TCP(c.Brokers...),
		sasl:    c.SASL,
		timeout: c.DialTimeout,
	}, nil
}

func (c *connection) close() { c.transport.CloseIdleConnections() }

// authError returns err marked permanent and naming the SASL mechanism and
// user when the broker refused the credentials, e.g. `KAFKA_SASL_USERNAME
// "watershed" (SCRAM-SHA-512): authentication failed: [58] SASL
// Authentication Failed: ...`; any other error unchanged. Apache Kafka
// answers a wrong password with SASL_AUTHENTICATION_FAILED (58); a broker
// that closes the connection during the exchange instead is reported by
// kafka-go as the same error.
func (c *connection) authError(err error) error {
	if err == nil || c.sasl.Mechanism == "" || !isAuthFailure(err) {
		return err
	}
	var af *authFailure
	if errors.As(err, &af) {
		return Permanent(err)
	}
	return Permanent(&authFailure{mechanism: c.sasl.Mechanism, username: c.sasl.Username, err: err})
}

func isAuthFailure(err error) bool {
	return errors.Is(err, kafka.SASLAuthenticationFailed) ||
		errors.Is(err, kafka.UnsupportedSASLMechanism) ||
		errors.Is(err, kafka.IllegalSASLState)
}

// authFailure is a refused SASL authentication; its text names the
// mechanism and the user, never the password.
type authFailure struct {
	mechanism, username string
	err                 error
}

func (e *authFailure) Error() string {
	return fmt.Sprintf("KAFKA_SASL_USERNAME %q (%s): authentication failed: %v", e.username, e.mechanism, e.err)
}

func (e *authFailure) Unwrap() error { return e.err }

// checkAuth asks a broker for the metadata of topics when SASL is
// configured, and returns the permanent authentication error (see
// authError) when the broker refuses the credentials: it answers
// SASL_AUTHENTICATION_FAILED, or closes the connection during the SASL
// exchange, after the handshake accepted the mechanism. Any other failure,
// such as a broker not reachable yet, is left to the caller's own retries:
// checkAuth then returns nil. Without SASL it returns nil at once, with no
// round trip. The check takes at most the dial timeout, over a transport of
// its own with c's settings (dialer, TLS, SASL, client id), so it can tell
// where the exchange stopped.
func (c *connection) checkAuth(topics []string) error {
	if c.sasl.Mechanism == "" || c.transport.SASL == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	mech := &saslProgress{Mechanism: c.transport.SASL}
	tr := &kafka.Transport{
		Dial:        c.transport.Dial,
		DialTimeout: c.timeout,
		ClientID:    c.transport.ClientID,
		TLS:         c.transport.TLS,
		SASL:        mech,
	}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: c.addr, Transport: tr, Timeout: c.timeout}
	_, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	switch {
	case err == nil:
		return nil
	case isAuthFailure(err):
		return c.authError(err)
	case mech.started.Load() && !mech.done.Load() && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return c.authError(fmt.Errorf("%w: the broker closed the connection during the SASL exchange: %w", kafka.SASLAuthenticationFailed, err))
	}
	return nil
}

// saslProgress is a SASL mechanism that records how far an exchange went:
// started once the broker accepted the mechanism in the handshake, done
// once the exchange completed.
type saslProgress struct {
	sasl.Mechanism
	started, done atomic.Bool
}

func (m *saslProgress) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	sm, ir, err := m.Mechanism.Start(ctx)
	if err != nil {
		return nil, nil, err
	}
	m.started.Store(true)
	return &saslProgressSession{StateMachine: sm, progress: m}, ir, nil
}

type saslProgressSession struct {
	sasl.StateMachine
	progress *saslProgress
}

func (s *saslProgressSession) Next(ctx context.Context, challenge []byte) (bool, []byte, error) {
	done, resp, err := s.StateMachine.Next(ctx, challenge)
	if done && err == nil {
		s.progress.done.Store(true)
	}
	return done, resp, err
}

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
