package rivers

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/watershed-grid/watershed/contracts"
)

// Control events change another service's behaviour: a retirement stops a
// publisher, a command drives a meter. The catalog marks their types
// (x-watershed.control). Whoever can write to the topic can forge one, so
// they take effect only from an authorised publisher, on every broker
// (the embedded one included): the publisher signs the record with its
// Ed25519 key, and a consumer with a trust list verifies the signature and
// that the signer may publish the type. A forged, tampered or unsigned
// control event is dead-lettered as ClassUnauthorised and counted.
//
// The signature travels as two CloudEvents extension attributes, in
// binary mode the headers below. It covers the record key, the value and
// the attributes that say what the event is and how long it holds (id,
// source, type, time, use-by, subject), so neither the payload nor its
// use-by can be changed, and the de-duplication of (source, id) stops a
// replay within the use-by.
const (
	// HeaderAuthKey names the signer: a key id of the consumers' trust list.
	HeaderAuthKey = "ce_authkey"
	// HeaderAuthSig is the Ed25519 signature, base64 (standard, padded).
	HeaderAuthSig = "ce_authsig"
)

// TrustedKey is one entry of a trust list: the signer's key id, its public
// key, and the control types (exact, or a prefix pattern such as
// "meter.command.*") it may publish.
type TrustedKey struct {
	ID        string
	PublicKey ed25519.PublicKey
	Types     []string
}

// mayPublish reports whether the key may sign events of typ.
func (k TrustedKey) mayPublish(typ string) bool {
	for _, t := range k.Types {
		if t == typ || t == "*" || (strings.HasSuffix(t, ".*") && strings.HasPrefix(typ, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// controlAuth signs the control events a service publishes and verifies
// those it consumes.
type controlAuth struct {
	keyID string
	key   ed25519.PrivateKey    // nil: the service signs nothing
	trust map[string]TrustedKey // nil: not enforced (a warning at start)
	types map[string]struct{}   // the validator's control types
}

func (a *controlAuth) isControl(typ string) bool {
	_, ok := a.types[typ]
	return ok
}

// newControlAuth makes the service's signer and verifier from cfg and the
// control types v knows.
func newControlAuth(cfg Config, v Validator) *controlAuth {
	a := &controlAuth{keyID: cfg.ControlKeyID, key: cfg.ControlKey, types: map[string]struct{}{}}
	if a.keyID == "" {
		a.keyID = cfg.Name
	}
	if cfg.ControlTrust != nil {
		a.trust = make(map[string]TrustedKey, len(cfg.ControlTrust))
		for _, k := range cfg.ControlTrust {
			a.trust[k.ID] = k
		}
	}
	tl, ok1 := v.(TypeLister)
	ti, ok2 := v.(TypeDescriber)
	if ok1 && ok2 {
		for _, t := range tl.Types() {
			if info, err := ti.Info(t); err == nil && info.Control {
				a.types[t] = struct{}{}
			}
		}
	}
	return a
}

// Controls declares types, beyond the catalog's control types, that the
// service acts on as control events: a service's own command type whose
// schema it keeps (the simulator's simulator.fault.v1). They take effect
// only from a trusted signer, as the catalog's do. Call it before Serve.
func (s *Service) Controls(types ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range types {
		s.auth.types[t] = struct{}{}
	}
}

// signs reports whether records of typ get a signature.
func (a *controlAuth) signs(typ string) bool { return a.key != nil && a.isControl(typ) }

// enforces reports whether records of typ must carry a trusted signature.
func (a *controlAuth) enforces(typ string) bool { return a.trust != nil && a.isControl(typ) }

// sign adds the signature headers to rec (binary mode, encoded).
func (a *controlAuth) sign(rec *Record) { SignControl(rec, a.keyID, a.key) }

// SignControl signs rec, a control event in Kafka binary mode, as key id
// with key: what the SDK does to the control events a service publishes
// with Config.ControlKey, for tools that write records themselves
// (`watershed publish --control-key`). Earlier signature headers are
// replaced.
func SignControl(rec *Record, id string, key ed25519.PrivateKey) {
	hs := rec.Headers[:0:0]
	for _, h := range rec.Headers {
		if h.Key != HeaderAuthKey && h.Key != HeaderAuthSig {
			hs = append(hs, h)
		}
	}
	sig := ed25519.Sign(key, controlDigest(rec, id))
	rec.Headers = append(hs,
		contracts.Header{Key: HeaderAuthKey, Value: []byte(id)},
		contracts.Header{Key: HeaderAuthSig, Value: []byte(base64.StdEncoding.EncodeToString(sig))})
}

// ErrUnauthorised is wrapped by the error a forged, tampered, unsigned or
// unauthorised control event is dead-lettered with.
var ErrUnauthorised = errors.New("unauthorised control event")

// verify checks rec, a control event of typ, against the trust list.
func (a *controlAuth) verify(rec *Record, typ string) error {
	keyID, _ := contracts.HeaderValue(rec.Headers, HeaderAuthKey)
	sig64, _ := contracts.HeaderValue(rec.Headers, HeaderAuthSig)
	if len(keyID) == 0 || len(sig64) == 0 {
		return fmt.Errorf("rivers: %w: %s carries no signature (%s, %s)", ErrUnauthorised, typ, HeaderAuthKey, HeaderAuthSig)
	}
	k, ok := a.trust[string(keyID)]
	if !ok {
		return fmt.Errorf("rivers: %w: %s signed by %q, which is not in the trust list (CONTROL_TRUST_FILE)", ErrUnauthorised, typ, truncateForLog(string(keyID)))
	}
	if !k.mayPublish(typ) {
		return fmt.Errorf("rivers: %w: %q may not publish %s (trust list: %s)", ErrUnauthorised, k.ID, typ, strings.Join(k.Types, ","))
	}
	sig, err := base64.StdEncoding.DecodeString(string(sig64))
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(k.PublicKey, controlDigest(rec, k.ID), sig) {
		return fmt.Errorf("rivers: %w: %s: the signature of %q does not match the event (forged or changed on the way)", ErrUnauthorised, typ, k.ID)
	}
	return nil
}

// controlDigest is what a control event's signature covers: a domain tag,
// the signer, the attributes that identify and date the event, the record
// key and the SHA-256 of the value, each length-prefixed.
func controlDigest(rec *Record, keyID string) []byte {
	var b []byte
	field := func(v []byte) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	field([]byte("watershed-control/1"))
	field([]byte(keyID))
	for _, h := range []string{contracts.HeaderID, contracts.HeaderSource, contracts.HeaderType,
		contracts.HeaderTime, contracts.HeaderExpiryTime, contracts.HeaderSubject} {
		v, _ := contracts.HeaderValue(rec.Headers, h)
		field(v)
	}
	field(rec.Key)
	sum := sha256.Sum256(rec.Value)
	field(sum[:])
	return b
}

func truncateForLog(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// LoadControlKey reads an Ed25519 private key from a PEM file ("PRIVATE
// KEY", PKCS #8: what `openssl genpkey -algorithm ed25519` writes).
func LoadControlKey(file string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CONTROL_KEY_FILE: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("CONTROL_KEY_FILE %s: not a PEM \"PRIVATE KEY\": make one with `openssl genpkey -algorithm ed25519 -out %s`", file, path.Base(file))
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CONTROL_KEY_FILE %s: %w", file, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("CONTROL_KEY_FILE %s: a %T, want an Ed25519 key (openssl genpkey -algorithm ed25519)", file, k)
	}
	return ek, nil
}

// MarshalControlKey encodes a private key as LoadControlKey reads it.
func MarshalControlKey(k ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// FormatTrustLine is one line of a trust file for key id, its public key
// and the types it may publish.
func FormatTrustLine(id string, pub ed25519.PublicKey, types ...string) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s %s", id, strings.Join(types, ","), base64.StdEncoding.EncodeToString(der)), nil
}

// ParseTrust reads a trust list: one signer per line,
//
//	<key id> <types, comma-separated> <public key>
//
// the public key in base64 of its PKIX DER (the body of the PEM "PUBLIC
// KEY" that `openssl pkey -pubout` prints). Blank lines and lines
// starting with # are skipped. Every bad line is reported, by number.
func ParseTrust(data []byte) ([]TrustedKey, error) {
	var out []TrustedKey
	var errs []error
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			errs = append(errs, fmt.Errorf("line %d: want \"<key id> <types> <public key>\", got %d fields", n, len(f)))
			continue
		}
		der, err := base64.StdEncoding.DecodeString(f[2])
		var pub any
		if err == nil {
			pub, err = x509.ParsePKIXPublicKey(der)
		}
		ek, ok := pub.(ed25519.PublicKey)
		if err != nil || !ok {
			errs = append(errs, fmt.Errorf("line %d (%s): the public key is not base64 of an Ed25519 PKIX key (openssl pkey -pubout prints one)", n, f[0]))
			continue
		}
		if seen[f[0]] {
			errs = append(errs, fmt.Errorf("line %d: key id %s is listed twice", n, f[0]))
			continue
		}
		seen[f[0]] = true
		out = append(out, TrustedKey{ID: f[0], PublicKey: ek, Types: strings.Split(f[1], ",")})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// VerifyControl checks rec, a control event of typ, against trust as a
// consumer with that trust list does; nil when it would take effect.
func VerifyControl(rec *Record, typ string, trust []TrustedKey) error {
	a := &controlAuth{trust: map[string]TrustedKey{}}
	for _, k := range trust {
		a.trust[k.ID] = k
	}
	return a.verify(rec, typ)
}
