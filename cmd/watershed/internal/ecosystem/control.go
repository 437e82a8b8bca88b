package ecosystem

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/meter-simulator/simulator"
)

// Signers are the publishers of control events in `watershed dev`, and the
// control types each may publish: the demand-tracker retires, the
// command-dispatcher commands meters, and an operator (the CLI, with
// `watershed publish --control-key`, or a demo) may request commands,
// retire or reinstate by hand, and inject simulator faults. Every member trusts exactly these.
var Signers = map[string][]string{
	"demand-tracker":     {events.TypeRetirement},
	"command-dispatcher": {events.TypeMeterCommand},
	OperatorSigner:       {events.TypeMeterCommandRequested, events.TypeRetirement, simulator.TypeFault},
	// A customer's read-frequency preference (its API) becomes a command.
	"usage-insights": {events.TypeMeterCommandRequested},
}

// OperatorSigner is the key id of the operator's key in dev's key folder.
const OperatorSigner = "operator"

// ControlKeys are dev's control-event keys: one private key per signer and
// the trust list every member gets.
type ControlKeys struct {
	Dir   string
	Keys  map[string]ed25519.PrivateKey
	Trust []rivers.TrustedKey
}

// TrustFile is the trust list LoadControlKeys writes beside the keys, in
// the format of CONTROL_TRUST_FILE.
const TrustFile = "trust"

// LoadControlKeys reads the signers' keys from dir (<signer>.pem), making
// any that is missing, and writes the trust list (dir/trust): the embedded
// dev broker needs no configuration, and the rule that control events take
// effect only from their publisher holds in dev as in production.
func LoadControlKeys(dir string) (*ControlKeys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control keys: %w", err)
	}
	ck := &ControlKeys{Dir: dir, Keys: map[string]ed25519.PrivateKey{}}
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(Signers)) {
		file := filepath.Join(dir, name+".pem")
		key, err := rivers.LoadControlKey(file)
		if errors.Is(err, fs.ErrNotExist) {
			key, err = newKeyFile(file)
		}
		if err != nil {
			return nil, fmt.Errorf("control keys: %w (delete %s to make a new one)", err, file)
		}
		pub := key.Public().(ed25519.PublicKey)
		ck.Keys[name] = key
		ck.Trust = append(ck.Trust, rivers.TrustedKey{ID: name, PublicKey: pub, Types: Signers[name]})
		line, err := rivers.FormatTrustLine(name, pub, Signers[name]...)
		if err != nil {
			return nil, err
		}
		lines = append(lines, line)
	}
	trust := "# Who may publish control events in this watershed dev (CONTROL_TRUST_FILE format).\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, TrustFile), []byte(trust), 0o644); err != nil {
		return nil, fmt.Errorf("control keys: %w", err)
	}
	return ck, nil
}

func newKeyFile(file string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	b, err := rivers.MarshalControlKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// configure returns a member's Configure hook that gives it the trust list
// and, for a signer, its key, before next (the member's own hook) runs.
func (ck *ControlKeys) configure(member string, next func(*rivers.Config)) func(*rivers.Config) {
	return func(c *rivers.Config) {
		c.ControlTrust = ck.Trust
		if k, ok := ck.Keys[member]; ok {
			c.ControlKey = k
		}
		if next != nil {
			next(c)
		}
	}
}
