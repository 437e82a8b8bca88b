package check

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// signers are the publishers of control events under docker-compose and
// the types each may publish: cmd/watershed/internal/ecosystem/control.go's
// Signers, which `watershed dev` uses (TestComposeControlKeys checks the
// two agree). "operator" is the CLI's key: no container mounts it.
var signers = map[string][]string{
	"demand-tracker":     {"system.retirement.v1"},
	"command-dispatcher": {"meter.command.v1"},
	"operator":           {"meter.command.requested.v1", "system.retirement.v1", "simulator.fault.v1"},
	"usage-insights":     {"meter.command.requested.v1"},
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func secretMount(s types.ServiceConfig, target string) (types.ServiceSecretConfig, bool) {
	for _, sec := range s.Secrets {
		t := sec.Target
		if t == "" {
			t = sec.Source
		}
		if t == target || t == "/run/secrets/"+target {
			return sec, true
		}
	}
	return types.ServiceSecretConfig{}, false
}

func envOf(s types.ServiceConfig, k string) string {
	if v := s.Environment[k]; v != nil {
		return *v
	}
	return ""
}

func TestComposeControlKeys(t *testing.T) {
	dir := initSecrets(t)
	p, err := loadCompose(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	// The signers here are dev's signers.
	eco := readFile(t, "cmd/watershed/internal/ecosystem/control.go")
	for name := range signers {
		if name != "operator" && !strings.Contains(eco, `"`+name+`":`) {
			t.Errorf("ecosystem.Signers has no %s: dev and compose disagree on who signs", name)
		}
	}
	for _, name := range services {
		s := p.Services[name]
		t.Run(name, func(t *testing.T) {
			if got := envOf(s, "CONTROL_TRUST_FILE"); got != "/run/secrets/control_trust" {
				t.Errorf("CONTROL_TRUST_FILE = %q, want /run/secrets/control_trust", got)
			}
			if sec, ok := secretMount(s, "control_trust"); !ok || sec.Source != "control_trust" {
				t.Errorf("secrets %+v: want control_trust mounted", s.Secrets)
			}
			_, signer := signers[name]
			key, hasKey := secretMount(s, "control_key")
			switch {
			case signer && (!hasKey || key.Source != "control_key_"+strings.ReplaceAll(name, "-", "_")):
				t.Errorf("secrets %+v: a signer gets its own key as control_key", s.Secrets)
			case signer && envOf(s, "CONTROL_KEY_FILE") != "/run/secrets/control_key":
				t.Errorf("CONTROL_KEY_FILE = %q, want /run/secrets/control_key", envOf(s, "CONTROL_KEY_FILE"))
			case !signer && (hasKey || envOf(s, "CONTROL_KEY_FILE") != ""):
				t.Errorf("not a signer, but has a control key (secrets %+v)", s.Secrets)
			}
			for _, sec := range s.Secrets {
				if strings.HasPrefix(sec.Source, "control_key_") && sec.Source != "control_key_"+strings.ReplaceAll(name, "-", "_") {
					t.Errorf("mounts another signer's key %s", sec.Source)
				}
			}
		})
	}
	// The files: keys readable by the services' uid (bind mounts keep the
	// host's owner), the operator's private to the host; a trust line per
	// signer, which rivers.ParseTrust's format (id, types, base64 PKIX).
	for name := range signers {
		fi, err := os.Stat(filepath.Join(dir, "control-"+name+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o644)
		if name == "operator" {
			want = 0o600
		}
		if fi.Mode().Perm() != want {
			t.Errorf("control-%s.pem mode %v, want %v", name, fi.Mode().Perm(), want)
		}
		pem, _ := os.ReadFile(filepath.Join(dir, "control-"+name+".pem"))
		if !strings.HasPrefix(string(pem), "-----BEGIN PRIVATE KEY-----") {
			t.Errorf("control-%s.pem is not a PKCS#8 PEM private key", name)
		}
	}
	trust, err := os.ReadFile(filepath.Join(dir, "control-trust"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(\S+) (\S+) (MCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=)$`) // Ed25519 SubjectPublicKeyInfo
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(trust)), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("control-trust line %q: want <key id> <types> <base64 Ed25519 PKIX key>", l)
			continue
		}
		seen[m[1]] = true
		if want := strings.Join(signers[m[1]], ","); m[2] != want {
			t.Errorf("control-trust: %s may publish %s, want %s", m[1], m[2], want)
		}
		// The line's key is the key file's.
		pub, err := exec.Command("openssl", "pkey", "-in", filepath.Join(dir, "control-"+m[1]+".pem"), "-pubout", "-outform", "DER").Output()
		if err == nil && !strings.Contains(l, b64(pub)) {
			t.Errorf("control-trust: %s's public key is not control-%s.pem's", m[1], m[1])
		}
	}
	if len(seen) != len(signers) {
		t.Errorf("control-trust lists %v, want %v", sortedKeys(seen), sortedKeys(signers))
	}
}

func TestComposeKafkaAuthentication(t *testing.T) { checkKafkaAuth(t, initSecrets(t)) }

func checkKafkaAuth(t *testing.T, dir string) {
	t.Helper()
	p, err := loadCompose(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	k := p.Services["kafka"]
	for key, want := range map[string]string{
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                 "CONTROLLER:PLAINTEXT,INTERNAL:SASL_PLAINTEXT,HOST:SASL_PLAINTEXT",
		"KAFKA_SASL_ENABLED_MECHANISMS":                        "SCRAM-SHA-512",
		"KAFKA_LISTENER_NAME_INTERNAL_SASL_ENABLED_MECHANISMS": "SCRAM-SHA-512,PLAIN",
		"KAFKA_AUTHORIZER_CLASS_NAME":                          "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND":                 "false",
		"KAFKA_SUPER_USERS":                                    "User:admin;User:ANONYMOUS",
		"KAFKA_OPTS":                                           "-Djava.security.auth.login.config=/run/secrets/kafka_jaas",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":                       "1@127.0.0.1:9093",
	} {
		if got := envOf(k, key); got != want {
			t.Errorf("kafka %s = %q, want %q", key, got, want)
		}
	}
	// ANONYMOUS is a super user: the only PLAINTEXT listener must be the
	// controller's, on the container's loopback.
	for _, l := range strings.Split(envOf(k, "KAFKA_LISTENERS"), ",") {
		if strings.HasPrefix(l, "CONTROLLER://") && l != "CONTROLLER://127.0.0.1:9093" {
			t.Errorf("listener %s: the controller listener binds loopback only", l)
		}
	}
	for _, sec := range []string{"kafka_jaas", "kafka_admin"} {
		if _, ok := secretMount(k, sec); !ok {
			t.Errorf("kafka does not mount %s", sec)
		}
	}
	if hc := strings.Join(k.HealthCheck.Test, " "); !strings.Contains(hc, "--command-config /run/secrets/kafka_admin") {
		t.Errorf("kafka healthcheck %q: the listener needs SASL, give it admin's client config", hc)
	}
	topics := p.Services["topics"]
	script := strings.Join(topics.Command, " ")
	if strings.Count(script, "--command-config /run/secrets/kafka_admin") < 2 || !strings.Contains(script, "/opt/watershed/access.sh") {
		t.Errorf("topics job: want kafka-topics.sh as admin and deploy/kafka/access.sh: %s", script)
	}
	if !slices.ContainsFunc(topics.Volumes, func(v types.ServiceVolumeConfig) bool {
		return strings.HasSuffix(v.Source, filepath.Join("deploy", "kafka", "access.sh")) && v.Target == "/opt/watershed/access.sh" && v.ReadOnly
	}) {
		t.Errorf("topics volumes %+v: want deploy/kafka/access.sh read-only at /opt/watershed/access.sh", topics.Volumes)
	}
	for _, sec := range []string{"kafka_admin", "kafka_users"} {
		if _, ok := secretMount(topics, sec); !ok {
			t.Errorf("topics does not mount %s", sec)
		}
	}
	for name, s := range p.Services {
		if name == "kafka" || name == "topics" {
			continue
		}
		for _, sec := range s.Secrets {
			if strings.HasPrefix(sec.Source, "kafka_") {
				t.Errorf("%s mounts %s: only the broker and the topics job hold admin's credentials", name, sec.Source)
			}
		}
	}

	// One principal per service, with the password kafka-users gives the
	// topics job; all different.
	users := map[string]string{}
	data, err := os.ReadFile(filepath.Join(dir, "kafka-users"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("kafka-users line %q: want <principal> <password>", l)
		}
		users[f[0]] = f[1]
	}
	passwords := map[string]string{}
	for _, name := range append(slices.Clone(services), "operator") {
		env := "kafka-" + name + ".env"
		if name == "operator" {
			env = "kafka-cli.env"
		}
		got := map[string]string{}
		b, err := os.ReadFile(filepath.Join(dir, env))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			k, v, _ := strings.Cut(l, "=")
			got[k] = v
		}
		if got["KAFKA_SASL_MECHANISM"] != "SCRAM-SHA-512" || got["KAFKA_SASL_USERNAME"] != name || len(got["KAFKA_SASL_PASSWORD"]) < 32 {
			t.Errorf("%s: want KAFKA_SASL_MECHANISM=SCRAM-SHA-512, KAFKA_SASL_USERNAME=%s and a random password", env, name)
		}
		if users[name] == "" || users[name] != got["KAFKA_SASL_PASSWORD"] {
			t.Errorf("kafka-users and %s disagree on %s's password", env, name)
		}
		if other, dup := passwords[got["KAFKA_SASL_PASSWORD"]]; dup {
			t.Errorf("%s and %s share a password", name, other)
		}
		passwords[got["KAFKA_SASL_PASSWORD"]] = name
		if name == "operator" {
			continue
		}
		s := p.Services[name]
		if envOf(s, "KAFKA_SASL_USERNAME") != name || envOf(s, "KAFKA_SASL_MECHANISM") != "SCRAM-SHA-512" || envOf(s, "KAFKA_SASL_PASSWORD") == "" {
			t.Errorf("%s: KAFKA_SASL_* not from %s", name, env)
		}
		if !slices.ContainsFunc(s.EnvFiles, func(f types.EnvFile) bool {
			return bool(f.Required) && filepath.Base(f.Path) == env
		}) {
			t.Errorf("%s: env_file %+v: want %s, required", name, s.EnvFiles, env)
		}
	}
	if len(users) != len(services)+1 {
		t.Errorf("kafka-users has %d principals, want one per service and operator (%d)", len(users), len(services)+1)
	}
	jaas, _ := os.ReadFile(filepath.Join(dir, "kafka_jaas"))
	admin, _ := os.ReadFile(filepath.Join(dir, "kafka-admin.properties"))
	pw := regexp.MustCompile(`user_admin="([0-9a-f]{48})"`).FindSubmatch(jaas)
	if pw == nil || !strings.Contains(string(admin), `password="`+string(pw[1])+`"`) {
		t.Error("kafka_jaas and kafka-admin.properties disagree on admin's password")
	}
}

// TestInitSecretsRegenerates: a missing file of a group regenerates its
// group (new passwords everywhere they are shared), the rest is kept.
func TestInitSecretsRegenerates(t *testing.T) {
	dir := initSecrets(t)
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	users, trust, redis, key := read("kafka-users"), read("control-trust"), read("redis.env"), read("control-demand-tracker.pem")
	if err := os.Remove(filepath.Join(dir, "kafka-registry.env")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "control-operator.pem")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "deploy", "init-secrets.sh"))
	cmd.Env = append(os.Environ(), "WATERSHED_SECRETS_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init-secrets.sh: %v\n%s", err, out)
	}
	if read("kafka-users") == users {
		t.Error("kafka-users kept after kafka-registry.env went: the Kafka files share passwords")
	}
	if read("control-trust") == trust {
		t.Error("control-trust kept after a new operator key was made")
	}
	if read("redis.env") != redis || read("control-demand-tracker.pem") != key {
		t.Error("files of other groups were regenerated")
	}
	// and the regenerated files agree again
	checkKafkaAuth(t, dir)
}
