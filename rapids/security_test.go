package rapids_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/watershed-grid/watershed/rapids"
)

// kfakeCluster starts a one-node kfake cluster with opts on a free port.
func kfakeCluster(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, "secure")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// roundTrip publishes one record to the "secure" topic and reads it back.
func roundTrip(t *testing.T, cfg rapids.Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Publish(ctx, rapids.Record{Topic: "secure", Key: []byte("k"), Value: []byte(`{"ok":true}`)}); err != nil {
		return err
	}
	c, err := rapids.NewConsumer(cfg, "secure-group", []string{"secure"})
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Fetch(ctx)
	if err != nil {
		return err
	}
	if string(r.Value) != `{"ok":true}` {
		t.Errorf("read %s back", r.Value)
	}
	return nil
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{rapids.SASLPlain, rapids.SASLScramSHA256, rapids.SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			addr := kfakeCluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "watershed", "s3cret"))
			cfg := rapids.Config{Brokers: []string{addr}, Logger: quietLogger(),
				SASL: rapids.SASL{Mechanism: mech, Username: "watershed", Password: "s3cret"}}
			if err := roundTrip(t, cfg); err != nil {
				t.Fatalf("authenticated round trip: %v", err)
			}
			cfg.SASL.Password = "wrong"
			// Apache Kafka answers a failed authentication with error 58
			// (SASL_AUTHENTICATION_FAILED), a permanent error (see
			// TestErrorClassification); kfake closes the connection
			// instead, so only the refusal itself is checked here.
			if err := roundTrip(t, cfg); err == nil {
				t.Fatal("a wrong password was accepted")
			}
		})
	}
}

// checkAuthFailure checks err is the clear, permanent authentication
// failure of cfg's credentials: it says authentication failed, names the
// mechanism and the user, and never shows the password.
func checkAuthFailure(t *testing.T, what string, cfg rapids.Config, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s with a wrong password succeeded", what)
	}
	msg := err.Error()
	for _, want := range []string{"authentication failed", cfg.SASL.Mechanism, fmt.Sprintf("%q", cfg.SASL.Username)} {
		if !strings.Contains(msg, want) {
			t.Errorf("%s: error %q does not contain %q", what, msg, want)
		}
	}
	if strings.Contains(msg, cfg.SASL.Password) {
		t.Errorf("%s: error %q shows the password", what, msg)
	}
	if !rapids.IsPermanent(err) || rapids.IsRetryable(err) {
		t.Errorf("%s: error %q is not permanent", what, msg)
	}
	if !errors.Is(err, kafka.SASLAuthenticationFailed) {
		t.Errorf("%s: error %q is not kafka.SASLAuthenticationFailed", what, msg)
	}
}

// TestSASLWrongPasswordFailsAtStart checks that a consumer with a wrong
// password fails in NewConsumer, at once, instead of retrying the
// authentication in the background forever. kfake closes the connection
// during the exchange where Apache Kafka answers error 58; TestSASLKafka
// checks Publish and EnsureTopics on the real broker.
func TestSASLWrongPasswordFailsAtStart(t *testing.T) {
	for _, mech := range []string{rapids.SASLPlain, rapids.SASLScramSHA256, rapids.SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			addr := kfakeCluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "watershed", "s3cret"))
			cfg := rapids.Config{Brokers: []string{addr}, Logger: quietLogger(), DialTimeout: 5 * time.Second,
				SASL: rapids.SASL{Mechanism: mech, Username: "watershed", Password: "wrong-s3cret"}}
			c, err := rapids.NewConsumer(cfg, "secure-group", []string{"secure"})
			if err == nil {
				c.Close()
			}
			checkAuthFailure(t, "NewConsumer", cfg, err)
		})
	}
}

// TestSASLConsumerBrokerDown checks that the credentials check of
// NewConsumer does not fail when the broker is merely unreachable: the
// consumer keeps trying in the background, as without SASL.
func TestSASLConsumerBrokerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	cfg := rapids.Config{Brokers: []string{addr}, Logger: quietLogger(), DialTimeout: 2 * time.Second,
		SASL: rapids.SASL{Mechanism: rapids.SASLScramSHA512, Username: "watershed", Password: "s3cret"}}
	c, err := rapids.NewConsumer(cfg, "down-group", []string{"secure"})
	if err != nil {
		t.Fatalf("NewConsumer with the broker down: %v; want a consumer that keeps trying", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := c.WaitAssigned(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitAssigned with the broker down: %v; want the context's deadline", err)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, serverCert := selfSignedCert(t, dir)
	addr := kfakeCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))
	cfg := rapids.Config{Brokers: []string{addr}, Logger: quietLogger(),
		TLS: rapids.TLS{Enabled: true, CAFile: caFile, ServerName: "kafka.watershed.test"}}
	if err := roundTrip(t, cfg); err != nil {
		t.Fatalf("TLS round trip: %v", err)
	}
	// Without the CA the broker's certificate is not trusted.
	cfg.TLS.CAFile = ""
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.Publish(ctx, rapids.Record{Topic: "secure", Value: []byte("{}")})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
}

// selfSignedCert writes a CA-signed-by-itself certificate for
// kafka.watershed.test and 127.0.0.1 and returns the PEM file and the
// server's key pair.
func selfSignedCert(t *testing.T, dir string) (string, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafka.watershed.test"},
		DNSNames:              []string{"kafka.watershed.test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, pair
}

// TestSASLKafka authenticates against the SASL listener of the real Kafka
// of the test environment, and checks that Apache Kafka's refusal of a
// wrong password is a permanent error.
func TestSASLKafka(t *testing.T) {
	addr := requireEnv(t, "WATERSHED_TEST_KAFKA_SASL", "real Apache Kafka with SASL")
	cfg := rapids.Config{Brokers: strings.Split(addr, ","), Logger: quietLogger(), SASL: rapids.SASL{
		Mechanism: requireEnv(t, "WATERSHED_TEST_KAFKA_SASL_MECHANISM", "SASL mechanism"),
		Username:  requireEnv(t, "WATERSHED_TEST_KAFKA_SASL_USER", "SASL user"),
		Password:  requireEnv(t, "WATERSHED_TEST_KAFKA_SASL_PASSWORD", "SASL password"),
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := fmt.Sprintf("sasl-%d", time.Now().UnixNano())
	if err := rapids.EnsureTopics(ctx, cfg, rapids.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: -1, Retention: time.Hour}); err != nil {
		t.Fatalf("EnsureTopics over SASL: %v", err)
	}
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Publish(ctx, rapids.Record{Topic: topic, Key: []byte("k"), Value: []byte(`{"ok":true}`)}); err != nil {
		t.Fatalf("Publish over SASL: %v", err)
	}
	c, err := rapids.NewConsumer(cfg, topic+"-group", []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Fetch(ctx); err != nil || string(r.Value) != `{"ok":true}` {
		t.Fatalf("Fetch over SASL: %q, %v", r.Value, err)
	}

	cfg.SASL.Password += "-wrong"
	bad, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	checkAuthFailure(t, "Publish", cfg, bad.Publish(ctx, rapids.Record{Topic: topic, Value: []byte("{}")}))
	checkAuthFailure(t, "EnsureTopics", cfg, rapids.EnsureTopics(ctx, cfg, rapids.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: -1}))
	badc, err := rapids.NewConsumer(cfg, topic+"-wrong", []string{topic})
	if err == nil {
		badc.Close()
	}
	checkAuthFailure(t, "NewConsumer", cfg, err)
}
