package hot

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
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/ponds/internal/testenv"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestConfigFromEnv(t *testing.T) {
	c, err := configFromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != "127.0.0.1:6379" || o.DB != 0 || o.TLSConfig != nil || o.DialTimeout != 5*time.Second {
		t.Fatalf("defaults: addr %s db %d tls %v dial %v", o.Addr, o.DB, o.TLSConfig, o.DialTimeout)
	}

	c, err = configFromLookup(lookup(map[string]string{
		EnvURL:         "redis://urluser:urlpass@redis.example:6380/3",
		EnvPassword:    "envpass",
		EnvDialTimeout: "2s",
		EnvPoolSize:    "7",
	}))
	if err != nil {
		t.Fatal(err)
	}
	o, _ = c.Options()
	if o.Addr != "redis.example:6380" || o.DB != 3 || o.Username != "urluser" || o.Password != "envpass" ||
		o.DialTimeout != 2*time.Second || o.PoolSize != 7 {
		t.Fatalf("URL + overrides: %+v", o)
	}
	c, _ = configFromLookup(lookup(map[string]string{EnvURL: "redis://u:p@h:1/0", EnvUsername: "acl-user"}))
	if o, _ := c.Options(); o.Username != "acl-user" || o.Password != "p" {
		t.Fatalf("REDIS_USERNAME override: user %q pass %q", o.Username, o.Password)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"scheme":           {map[string]string{EnvURL: "http://127.0.0.1:6379"}, "REDIS_URL scheme \"http\""},
		"no host":          {map[string]string{EnvURL: "redis:///0"}, "has no host"},
		"bad db":           {map[string]string{EnvURL: "redis://h:6379/notadb"}, "REDIS_URL"},
		"tls without ssl":  {map[string]string{EnvURL: "redis://h:6379/0", EnvTLSCAFile: notPEM}, "use rediss://"},
		"cert without key": {map[string]string{EnvURL: "rediss://h:6380/0", EnvTLSCertFile: notPEM}, "REDIS_TLS_KEY_FILE"},
		"missing ca":       {map[string]string{EnvURL: "rediss://h:6380/0", EnvTLSCAFile: filepath.Join(dir, "nope.pem")}, "REDIS_TLS_CA_FILE"},
		"ca not pem":       {map[string]string{EnvURL: "rediss://h:6380/0", EnvTLSCAFile: notPEM}, "holds no PEM certificate"},
		"skip verify":      {map[string]string{EnvURL: "rediss://h:6380/0", EnvTLSInsecureSkipVerify: "yes please"}, "REDIS_TLS_INSECURE_SKIP_VERIFY"},
		"dial timeout":     {map[string]string{EnvDialTimeout: "-1s"}, "REDIS_DIAL_TIMEOUT"},
		"pool size":        {map[string]string{EnvPoolSize: "many"}, "REDIS_POOL_SIZE"},
	} {
		_, err := configFromLookup(lookup(tc.env))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrConfig mentioning %q", name, err, tc.want)
		}
	}
	// A password in the URL never appears in an error.
	_, err := configFromLookup(lookup(map[string]string{EnvURL: "redis://u:s3cret@/0"}))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the password or is missing: %v", err)
	}
}

// TestTLSHandshake checks that REDIS_TLS_CA_FILE, the server name and a
// client certificate reach the wire: a TLS server with a certificate from a
// test CA sees a completed handshake, and a client without that CA fails.
func TestTLSHandshake(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caFile := newCA(t, dir)
	serverCert := newLeaf(t, ca, caKey, "redis.test", dir, "server")
	clientCertFile, clientKeyFile := newLeafFiles(t, ca, caKey, "svc-client", dir, "client")

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	handshakes := make(chan string, 8)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tc := conn.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				handshakes <- "failed: " + err.Error()
			} else {
				st := tc.ConnectionState()
				handshakes <- "ok " + st.ServerName + " " + st.PeerCertificates[0].Subject.CommonName
			}
			conn.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	cfg := Config{
		URL: "rediss://127.0.0.1:" + port + "/0", DialTimeout: 2 * time.Second,
		TLS: TLS{CAFile: caFile, ServerName: "redis.test", CertFile: clientCertFile, KeyFile: clientKeyFile},
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Ping(ctx).Err() // the test server speaks no RESP: only the handshake matters
	c.Close()
	if got := <-handshakes; got != "ok redis.test svc-client" {
		t.Fatalf("server saw %q, want a verified handshake for redis.test from svc-client", got)
	}

	cfg.TLS.CAFile = "" // the system roots do not know the test CA
	c, _ = NewClient(cfg)
	err = c.Ping(ctx).Err()
	c.Close()
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Ping without the CA: %v, want a certificate error", err)
	}
}

// TestACLUser connects as the ACL user of WATERSHED_TEST_REDIS_ACL (a
// redis:// URL with user and password; the user needs ~ws:* and the
// commands the package documentation lists), both from the URL and from
// Username/Password overrides, uses every store, and checks that a wrong
// password is refused.
func TestACLUser(t *testing.T) {
	_, prefix := testRedis(t)
	aclURL := testenv.Require(t, "WATERSHED_TEST_REDIS_ACL", "Redis ACL user (redis://user:password@host:port/db)")
	u, err := url.Parse(aclURL)
	if err != nil || u.User == nil {
		t.Fatalf("WATERSHED_TEST_REDIS_ACL=%q is not a redis:// URL with user and password", aclURL)
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	ctx := context.Background()

	for name, cfg := range map[string]Config{
		"from URL":       {URL: aclURL},
		"from overrides": {URL: u.String(), Username: user, Password: pass},
	} {
		p, err := Open(ctx, cfg, &Options{KeyPrefix: prefix + name + ":"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if who := p.Client().Do(ctx, "ACL", "WHOAMI").String(); !strings.Contains(who, user) {
			t.Errorf("%s: ACL WHOAMI = %s, want %s", name, who, user)
		}
		if _, err := p.Write(ctx, reading(t, "m-acl", "t-1", "f-1", time.Now(), 1)); err != nil {
			t.Errorf("%s: Write as %s: %v", name, user, err)
		}
		if r, err := p.Latest(ctx, "m-acl"); err != nil || r.MeterID != "m-acl" {
			t.Errorf("%s: Latest as %s: %+v, %v", name, user, r, err)
		}
		if w, err := p.Window(ctx, "m-acl", time.Now().Add(-time.Hour), time.Now().Add(time.Hour)); err != nil || len(w) != 1 {
			t.Errorf("%s: Window as %s: %d readings, %v", name, user, len(w), err)
		}
		if tr, err := p.Transformer(ctx, "t-1"); err != nil || len(tr) != 1 {
			t.Errorf("%s: Transformer as %s: %d readings, %v", name, user, len(tr), err)
		}
		px := prefix + name + ":"
		if seen, err := NewDedupStore(p.Client(), &DedupOptions{KeyPrefix: px}).Seen(ctx, "e-1"); err != nil || seen {
			t.Errorf("%s: Seen as %s: %v, %v", name, user, seen, err)
		}
		cs := NewCheckpointStore(p.Client(), px)
		if err := cs.Save(ctx, "c", []byte("1")); err != nil {
			t.Errorf("%s: Save as %s: %v", name, user, err)
		}
		p.Close()
	}

	_, err = Open(ctx, Config{URL: u.String(), Username: user, Password: pass + "-wrong"}, nil)
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("Open with a wrong password: %v, want WRONGPASS", err)
	}
}

func newCA(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "watershed test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(dir, "ca.crt")
	writePEM(t, file, "CERTIFICATE", der)
	return cert, key, file
}

func newLeafFiles(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func newLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn, dir, name string) tls.Certificate {
	certFile, keyFile := newLeafFiles(t, ca, caKey, cn, dir, name)
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
