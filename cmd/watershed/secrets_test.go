package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// services are the binaries under services/ the secrets test runs.
var secretServices = []string{"clock-watch", "demand-tracker", "dlq-replayer", "feeder-aggregator", "gap-detector",
	"heartbeat-monitor", "hot-pond", "meter-simulator", "mqtt-gateway", "outage-detector", "raw-archiver",
	"reading-validator", "registry", "river-archiver", "supervisor", "usage-aggregator"}

// buildAll builds every service and the watershed CLI into a folder with
// the repository's go.work.
func buildAll(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator), "./cmd/watershed"}
	for _, s := range secretServices {
		args = append(args, "./services/"+s)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// secretCase is one configuration whose output must not show the secret.
type secretCase struct {
	name string
	env  map[string]string
	bins [][]string // binary and arguments
	// fails: the process must exit non-zero within the timeout, naming
	// want (the variable at fault). Otherwise it may run (a valid
	// configuration whose server is unreachable) and is stopped.
	fails bool
	want  string
	// needs names a variable of a real server the case needs.
	needs string
}

// TestNoSecretInOutput drives the configuration error paths of every
// service and of the CLI with credentials in URLs and variables, and scans
// all they print and log for the secret. A Redis password appeared in
// "REDIS_URL is not a URL (parse \"redis://default:<password>@...\")".
func TestNoSecretInOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds every service")
	}
	bin := buildAll(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	secret := "Sx" + hex.EncodeToString(b[:])
	every := func(extra ...[]string) [][]string {
		var out [][]string
		for _, s := range secretServices {
			out = append(out, []string{s})
		}
		return append(out, extra...)
	}
	redis := [][]string{{"hot-pond"}, {"gap-detector"}}
	ponds := [][]string{{"raw-archiver"}, {"river-archiver"}, {"watershed", "ponds", "ls"}, {"watershed", "ponds", "cat"}}
	kafkaCLI := [][]string{{"watershed", "dlq", "ls"}, {"watershed", "tap", "rivers"}, {"watershed", "dlq", "replay", "--dry-run"}}
	cases := []secretCase{
		{name: "REDIS_URL with a bad port", env: map[string]string{"REDIS_URL": "redis://default:" + secret + "@127.0.0.1:99999x/0"},
			bins: redis, fails: true, want: "REDIS_URL"},
		{name: "REDIS_URL with a bad database", env: map[string]string{"REDIS_URL": "redis://default:" + secret + "@127.0.0.1:6379/db"},
			bins: redis, fails: true, want: "REDIS_URL"},
		{name: "REDIS_URL with a bad scheme", env: map[string]string{"REDIS_URL": "redis-x://default:" + secret + "@127.0.0.1:6379/0"},
			bins: redis, fails: true, want: "REDIS_URL"},
		{name: "REDIS_URL without host", env: map[string]string{"REDIS_URL": "redis://default:" + secret + "@/0"},
			bins: redis, fails: true, want: "REDIS_URL"},
		{name: "REDIS_PASSWORD and a bad dial timeout", env: map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_PASSWORD": secret, "REDIS_DIAL_TIMEOUT": "soon"},
			bins: redis, fails: true, want: "REDIS_DIAL_TIMEOUT"},
		{name: "REDIS unreachable", env: map[string]string{"REDIS_URL": "redis://default:" + secret + "@127.0.0.1:1/0", "REDIS_PASSWORD": secret},
			bins: [][]string{{"hot-pond"}}},
		{name: "KAFKA_SASL_MECHANISM unknown", env: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN-" + secret, "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": secret},
			bins: every(kafkaCLI...), fails: true, want: "KAFKA_SASL_MECHANISM"},
		{name: "KAFKA_SASL_USERNAME missing", env: map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_PASSWORD": secret},
			bins: every(kafkaCLI...), fails: true, want: "KAFKA_SASL_USERNAME"},
		{name: "KAFKA_BROKERS with credentials", env: map[string]string{"KAFKA_BROKERS": "admin:" + secret + "@127.0.0.1:9092"},
			bins: every(kafkaCLI...), fails: true, want: "KAFKA_BROKERS"},
		{name: "KAFKA_SASL_PASSWORD refused", env: map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "watershed", "KAFKA_SASL_PASSWORD": secret},
			bins: [][]string{{"reading-validator"}, {"raw-archiver"}, {"watershed", "dlq", "ls"}}, needs: "WATERSHED_TEST_KAFKA_SASL"},
		{name: "PONDS_URL that does not parse", env: pondEnv("s3://minio:" + secret + "@pond:bad/x?region=x&sig=" + secret),
			bins: ponds, fails: true, want: "bucket URL"},
		{name: "PONDS_URL of an unknown scheme", env: pondEnv("ftp://minio:" + secret + "@pond/x?secret=" + secret),
			bins: ponds, fails: true, want: "ftp"},
		{name: "S3 keys, store unreachable", env: withEnv(pondEnv("s3://pond?endpoint="+url.QueryEscape("http://127.0.0.1:1")+"&region=us-east-1&use_path_style=true"),
			"AWS_ACCESS_KEY_ID", "AK"+secret, "AWS_SECRET_ACCESS_KEY", secret),
			bins: ponds},
		{name: "MQTT_URL that does not parse", env: map[string]string{"MQTT_URL": "tcp://meter:" + secret + "@127.0.0.1:bad"},
			bins: [][]string{{"mqtt-gateway"}}, fails: true, want: "MQTT_URL"},
		{name: "MQTT_URL of an unknown scheme", env: map[string]string{"MQTT_URL": "ftp://meter:" + secret + "@127.0.0.1:1883"},
			bins: [][]string{{"mqtt-gateway"}}, fails: true, want: "MQTT_URL"},
		{name: "MQTT_PASSWORD and a bad QoS", env: map[string]string{"MQTT_PASSWORD": secret, "MQTT_USERNAME": "meter", "MQTT_QOS": "7"},
			bins: [][]string{{"mqtt-gateway"}}, fails: true, want: "MQTT_QOS"},
		{name: "MQTT unreachable", env: map[string]string{"MQTT_URL": "tcp://meter:" + secret + "@127.0.0.1:1", "MQTT_PASSWORD": secret},
			bins: [][]string{{"mqtt-gateway"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"KAFKA_BROKERS": "127.0.0.1:1", "HTTP_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir(),
				"LOG_LEVEL": "debug", "KAFKA_DIAL_TIMEOUT": "1s"}
			if c.needs != "" {
				addr := os.Getenv(c.needs)
				if addr == "" {
					if os.Getenv("CI") == "true" {
						t.Fatalf("%s not set: no real server (run scripts/testenv/up.sh)", c.needs)
					}
					t.Skipf("%s not set: no real server (run scripts/testenv/up.sh)", c.needs)
				}
				env["KAFKA_BROKERS"] = addr
			}
			for k, v := range c.env {
				env[k] = v
			}
			for _, args := range c.bins {
				out, code := runWithEnv(t, filepath.Join(bin, args[0]), args[1:], env, 4*time.Second)
				for _, s := range []string{secret, url.QueryEscape(secret)} {
					if strings.Contains(out, s) {
						t.Errorf("%s: the secret is in its output:\n%s", strings.Join(args, " "), out)
					}
				}
				if c.fails && (code == 0 || !strings.Contains(out, c.want)) {
					t.Errorf("%s: exit %d, want a configuration error naming %s:\n%s", strings.Join(args, " "), code, c.want, out)
				}
			}
		})
	}
}

// pondEnv sets the pond's URL for the services and for the CLI.
func pondEnv(u string) map[string]string { return map[string]string{"PONDS_URL": u, envPond: u} }

func withEnv(m map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// runWithEnv runs a binary with exactly env (and PATH, HOME) until it exits
// or timeout passes (then it is stopped), and returns what it printed and
// logged and its exit code (-1 when stopped).
func runWithEnv(t *testing.T, path string, args []string, env map[string]string, timeout time.Duration) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), -1
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out.String(), 0
}
