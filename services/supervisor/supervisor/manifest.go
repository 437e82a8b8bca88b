package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Policy says when a program that exited is started again.
type Policy string

// Restart policies.
const (
	// Always restarts the program whatever its exit status.
	Always Policy = "always"
	// OnFailure restarts the program only when it exited non-zero or was
	// killed by a signal.
	OnFailure Policy = "on-failure"
	// Never leaves an exited program stopped.
	Never Policy = "never"
)

// Manifest defaults.
const (
	DefaultPolicy         = OnFailure
	DefaultMaxRestarts    = 10
	DefaultBackoffInitial = time.Second
	DefaultBackoffMax     = 30 * time.Second
	DefaultBackoffFactor  = 2.0
	DefaultStopTimeout    = 10 * time.Second
	DefaultStableAfter    = 30 * time.Second
)

// ErrInvalidManifest is wrapped by every manifest validation error.
var ErrInvalidManifest = errors.New("supervisor: invalid manifest")

// Backoff is the delay before a restart: Initial, multiplied by Factor after
// each consecutive failure, capped at Max.
type Backoff struct {
	Initial time.Duration `yaml:"initial"` // default 1s
	Max     time.Duration `yaml:"max"`     // default 30s
	Factor  float64       `yaml:"factor"`  // default 2
}

// Delay returns the delay before restart number n (1 for the first restart).
func (b Backoff) Delay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(b.Initial)
	for i := 1; i < n; i++ {
		d *= b.Factor
		if d >= float64(b.Max) {
			return b.Max
		}
	}
	if d > float64(b.Max) {
		return b.Max
	}
	return time.Duration(d)
}

// Program is one service process in the manifest. Exactly one of Command
// (a binary path) and Module (a Go package path, run with `go run`) is set.
type Program struct {
	Name    string            `yaml:"name"`
	Command string            `yaml:"command"` // path of the binary to run
	Module  string            `yaml:"module"`  // Go package path, run as `go run <module> <args>`
	Dir     string            `yaml:"dir"`     // working directory; default the supervisor's
	Args    []string          `yaml:"args"`
	Env     map[string]string `yaml:"env"` // added to the supervisor's environment
	Restart Policy            `yaml:"restart"`
	// MaxRestarts is how many consecutive restarts are tried before the
	// supervisor gives up on the program; a run longer than StableAfter
	// resets the count. 0 means DefaultMaxRestarts; negative means no limit.
	MaxRestarts int           `yaml:"max_restarts"`
	Backoff     Backoff       `yaml:"backoff"`
	StopTimeout time.Duration `yaml:"stop_timeout"` // SIGTERM, then SIGKILL after this; default 10s
	StableAfter time.Duration `yaml:"stable_after"` // default 30s
}

// Argv returns the program's command line.
func (p Program) Argv() []string {
	if p.Module != "" {
		return append([]string{"go", "run", p.Module}, p.Args...)
	}
	return append([]string{p.Command}, p.Args...)
}

// Manifest lists the programs a supervisor runs. They start in this order
// and stop in the reverse order.
type Manifest struct {
	Programs []Program `yaml:"services"`
}

// ParseManifest decodes a YAML manifest, applies defaults and validates it.
// Unknown fields are errors, so a typo does not silently change behaviour.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	m = m.WithDefaults()
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// LoadManifest reads and parses the manifest file at path.
func LoadManifest(path string) (Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("supervisor: read manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WithDefaults returns m with every unset field of every program defaulted.
func (m Manifest) WithDefaults() Manifest {
	out := Manifest{Programs: make([]Program, len(m.Programs))}
	for i, p := range m.Programs {
		if p.Restart == "" {
			p.Restart = DefaultPolicy
		}
		if p.MaxRestarts == 0 {
			p.MaxRestarts = DefaultMaxRestarts
		}
		if p.Backoff.Initial == 0 {
			p.Backoff.Initial = DefaultBackoffInitial
		}
		if p.Backoff.Max == 0 {
			p.Backoff.Max = DefaultBackoffMax
		}
		if p.Backoff.Factor == 0 {
			p.Backoff.Factor = DefaultBackoffFactor
		}
		if p.StopTimeout == 0 {
			p.StopTimeout = DefaultStopTimeout
		}
		if p.StableAfter == 0 {
			p.StableAfter = DefaultStableAfter
		}
		out.Programs[i] = p
	}
	return out
}

// Validate reports the first problem of the manifest, naming the program
// and the field.
func (m Manifest) Validate() error {
	if len(m.Programs) == 0 {
		return fmt.Errorf("%w: no services listed (add a `services:` list)", ErrInvalidManifest)
	}
	seen := map[string]bool{}
	for i, p := range m.Programs {
		where := fmt.Sprintf("services[%d]", i)
		if p.Name != "" {
			where = fmt.Sprintf("service %q", p.Name)
		}
		switch {
		case p.Name == "":
			return fmt.Errorf("%w: %s: name is required", ErrInvalidManifest, where)
		case seen[p.Name]:
			return fmt.Errorf("%w: %s: listed twice", ErrInvalidManifest, where)
		case (p.Command == "") == (p.Module == ""):
			return fmt.Errorf("%w: %s: set exactly one of command (binary path) and module (Go package path)", ErrInvalidManifest, where)
		case p.Restart != Always && p.Restart != OnFailure && p.Restart != Never:
			return fmt.Errorf("%w: %s: restart %q: want always, on-failure or never", ErrInvalidManifest, where, p.Restart)
		case p.Backoff.Initial < 0 || p.Backoff.Max < p.Backoff.Initial:
			return fmt.Errorf("%w: %s: backoff: want 0 < initial <= max", ErrInvalidManifest, where)
		case p.Backoff.Factor < 1:
			return fmt.Errorf("%w: %s: backoff.factor %v: want >= 1", ErrInvalidManifest, where, p.Backoff.Factor)
		case p.StopTimeout < 0 || p.StableAfter < 0:
			return fmt.Errorf("%w: %s: stop_timeout and stable_after must be positive", ErrInvalidManifest, where)
		}
		seen[p.Name] = true
	}
	return nil
}
