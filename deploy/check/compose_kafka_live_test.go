package check

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// kafkaDistribution returns the class path of the Kafka broker and tools
// scripts/testenv pins (scripts/testenv/kafka/pom.xml, from the local Maven
// repository up.sh filled). No distribution: skipped; under CI=true a
// failure when the test environment says it has one.
func kafkaDistribution(t *testing.T) string {
	t.Helper()
	version := os.Getenv("WATERSHED_TEST_KAFKA_VERSION")
	if version == "" {
		t.Skip("WATERSHED_TEST_KAFKA_VERSION not set: no local Kafka distribution (run scripts/testenv/up.sh and source scripts/testenv/.state/env)")
	}
	missing := func(format string, a ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, a...)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing("%s not found: cannot run the local Kafka %s", tool, version)
		}
	}
	out := filepath.Join(t.TempDir(), "classpath")
	cmd := exec.Command("mvn", "-o", "-q", "-f", filepath.Join(repoRoot(t), "scripts", "testenv", "kafka", "pom.xml"),
		"dependency:build-classpath", "-Dmdep.outputFile="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		missing("Kafka %s with its tools is not in the local Maven repository (scripts/testenv/up.sh resolves scripts/testenv/kafka/pom.xml): %v\n%s", version, err, b)
	}
	cp, err := os.ReadFile(out)
	if err != nil || len(cp) == 0 {
		missing("no class path for Kafka %s: %v", version, err)
	}
	return strings.TrimSpace(string(cp))
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// envFile reads a NAME=value file of the secrets directory.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		out[k] = v
	}
	return out
}

// TestComposeKafkaAuthLive runs docker-compose.yml's Kafka configuration on
// the local Kafka of scripts/testenv: the broker with the kafka service's
// KAFKA_* settings (as the apache/kafka image turns them into
// server.properties) and JAAS file, on loopback ports, then the topics
// job's own script (kafka-topics.sh, deploy/kafka/access.sh) for two
// service principals, and checks who gets in.
func TestComposeKafkaAuthLive(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a Kafka broker")
	}
	cp := kafkaDistribution(t)
	secrets := initSecrets(t)
	p, err := loadCompose(t, secrets)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	internal, controller, host := freePort(t), freePort(t), freePort(t)
	local := strings.NewReplacer(
		"kafka:9092", "127.0.0.1:"+internal, "://:9092", "://127.0.0.1:"+internal,
		"127.0.0.1:9093", "127.0.0.1:"+controller,
		"://:9094", "://127.0.0.1:"+host, "127.0.0.1:9094", "127.0.0.1:"+host)

	// server.properties from the kafka service's environment: KAFKA_X_Y is
	// x.y (the image's rule; the file uses no name that needs its escapes).
	k := p.Services["kafka"]
	var props strings.Builder
	for _, name := range sortedKeys(k.Environment) {
		switch name {
		case "KAFKA_OPTS", "KAFKA_HEAP_OPTS", "CLUSTER_ID":
			continue
		case "KAFKA_LOG_DIRS":
			fmt.Fprintf(&props, "log.dirs=%s\n", filepath.Join(work, "data"))
			continue
		}
		if !strings.HasPrefix(name, "KAFKA_") || strings.Contains(name, "__") {
			t.Fatalf("kafka sets %s: not a KAFKA_ property this test can translate", name)
		}
		key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "KAFKA_"), "_", "."))
		fmt.Fprintf(&props, "%s=%s\n", key, local.Replace(*k.Environment[name]))
	}
	propsFile := filepath.Join(work, "server.properties")
	if err := os.WriteFile(propsFile, []byte(props.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	jaas := strings.TrimPrefix(*k.Environment["KAFKA_OPTS"], "-Djava.security.auth.login.config=")
	if jaas != "/run/secrets/kafka_jaas" {
		t.Fatalf("KAFKA_OPTS %q: want the JAAS file /run/secrets/kafka_jaas", *k.Environment["KAFKA_OPTS"])
	}
	java := func(ctx context.Context, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "java", append([]string{"-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp}, args...)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if out, err := java(ctx, "kafka.tools.StorageTool", "format", "-t", *k.Environment["CLUSTER_ID"], "-c", propsFile).CombinedOutput(); err != nil {
		t.Fatalf("kafka-storage format: %v\n%s", err, out)
	}
	logFile, err := os.Create(filepath.Join(work, "kafka.log"))
	if err != nil {
		t.Fatal(err)
	}
	broker := java(context.Background(), "-Djava.security.auth.login.config="+filepath.Join(secrets, "kafka_jaas"), "kafka.Kafka", propsFile)
	broker.Stdout, broker.Stderr = logFile, logFile
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = broker.Process.Kill()
		_ = broker.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("broker log (tail):\n%s", tail(string(b), 4000))
			}
		}
	})

	admin := envFile(t, filepath.Join(secrets, "kafka-admin.properties"))
	adminPW := strings.TrimSuffix(strings.SplitN(admin["sasl.jaas.config"], `password="`, 2)[1], `";`)
	client := func(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
		t.Helper()
		c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RequestRetries(2), kgo.RetryTimeout(5 * time.Second)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	internalAddr, hostAddr := "127.0.0.1:"+internal, "127.0.0.1:"+host
	asAdmin := client(t, internalAddr, kgo.SASL(plain.Auth{User: "admin", Pass: adminPW}.AsMechanism()))
	for deadline := time.Now().Add(90 * time.Second); ; {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		err := asAdmin.Ping(pctx)
		pcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || broker.ProcessState != nil {
			t.Fatalf("the broker does not answer admin on %s: %v", internalAddr, err)
		}
		time.Sleep(time.Second)
	}

	// The topics job: its command, with the image's scripts as shims over
	// the class path, for two service principals.
	bin := filepath.Join(work, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for script, class := range map[string]string{
		"kafka-topics.sh":  "org.apache.kafka.tools.TopicCommand",
		"kafka-acls.sh":    "org.apache.kafka.tools.AclCommand",
		"kafka-configs.sh": "kafka.admin.ConfigCommand",
	} {
		shim := fmt.Sprintf("#!/bin/sh\nexec java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp %q %s \"$@\"\n", cp, class)
		if err := os.WriteFile(filepath.Join(bin, script), []byte(shim), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	users := filepath.Join(work, "kafka-users")
	var two strings.Builder
	sc := bufio.NewScanner(strings.NewReader(readSecret(t, secrets, "kafka-users")))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && (f[0] == "gap-detector" || f[0] == "registry") {
			two.WriteString(sc.Text() + "\n")
		}
	}
	if err := os.WriteFile(users, []byte(two.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	topics := p.Services["topics"]
	script := strings.NewReplacer(
		"/opt/kafka/bin/", bin+"/",
		"/run/secrets/kafka_admin", filepath.Join(secrets, "kafka-admin.properties"),
		"/opt/watershed/access.sh", filepath.Join(repoRoot(t), "deploy", "kafka", "access.sh"),
	).Replace(local.Replace(strings.Join(topics.Command, "\n")))
	job := exec.CommandContext(ctx, "bash", "-ec", script)
	job.Env = append(os.Environ(),
		"KAFKA_BIN="+bin, "KAFKA_BOOTSTRAP="+internalAddr,
		"KAFKA_ADMIN_CONFIG="+filepath.Join(secrets, "kafka-admin.properties"), "KAFKA_USERS_FILE="+users)
	for _, name := range sortedKeys(topics.Environment) {
		job.Env = append(job.Env, name+"="+*topics.Environment[name])
	}
	if out, err := job.CombinedOutput(); err != nil {
		t.Fatalf("the topics job: %v\n%s", err, out)
	}

	gap := envFile(t, filepath.Join(secrets, "kafka-gap-detector.env"))
	scramAs := func(user, pass string) kgo.Opt {
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
	}
	rapids := *topics.Environment["RAPIDS"]

	for _, addr := range []string{internalAddr, hostAddr} {
		t.Run("service principal on "+addr, func(t *testing.T) {
			c := client(t, addr, scramAs("gap-detector", gap["KAFKA_SASL_PASSWORD"]))
			value := fmt.Sprintf("reading via %s", addr)
			if err := c.ProduceSync(ctx, &kgo.Record{Topic: rapids, Value: []byte(value)}).FirstErr(); err != nil {
				t.Fatalf("gap-detector cannot produce to %s: %v", rapids, err)
			}
			cons := client(t, addr, scramAs("gap-detector", gap["KAFKA_SASL_PASSWORD"]),
				kgo.ConsumerGroup("gap-detector-live-"+freePort(t)), kgo.ConsumeTopics(rapids),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			pctx, pcancel := context.WithTimeout(ctx, 45*time.Second)
			defer pcancel()
			for found := false; !found; {
				fs := cons.PollFetches(pctx)
				if err := pctx.Err(); err != nil {
					t.Fatalf("gap-detector did not read back %q from its group: %v", value, fs.Errors())
				}
				fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Value) == value })
			}
			// another service's group: refused
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorKeys = []string{"registry"}
			resp, err := req.RequestWith(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Coordinators) != 1 || resp.Coordinators[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
				t.Errorf("gap-detector looked up the registry's group: %+v, want GROUP_AUTHORIZATION_FAILED", resp.Coordinators)
			}
			// creating a topic: admin's alone
			ct := kmsg.NewPtrCreateTopicsRequest()
			topic := kmsg.NewCreateTopicsRequestTopic()
			topic.Topic, topic.NumPartitions, topic.ReplicationFactor = "not-yours", 1, 1
			ct.Topics = append(ct.Topics, topic)
			ctr, err := ct.RequestWith(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if code := ctr.Topics[0].ErrorCode; code != kerr.TopicAuthorizationFailed.Code && code != kerr.ClusterAuthorizationFailed.Code {
				t.Errorf("gap-detector created a topic: error code %d, want an authorization failure", code)
			}
		})
	}

	refused := map[string][]kgo.Opt{
		"no SASL":        nil,
		"wrong password": {scramAs("gap-detector", "not-"+gap["KAFKA_SASL_PASSWORD"])},
		"unknown user":   {scramAs("nobody", gap["KAFKA_SASL_PASSWORD"])},
	}
	for name, opts := range refused {
		for _, addr := range []string{internalAddr, hostAddr} {
			t.Run(name+" on "+addr, func(t *testing.T) {
				c := client(t, addr, append([]kgo.Opt{kgo.RequestRetries(0)}, opts...)...)
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				defer pcancel()
				req := kmsg.NewPtrMetadataRequest()
				_, err := req.RequestWith(pctx, c)
				switch {
				case err == nil:
					t.Fatal("the broker answered a metadata request")
				case name != "no SASL" && !errors.Is(err, kerr.SaslAuthenticationFailed):
					t.Errorf("refused with %v, want SASL_AUTHENTICATION_FAILED", err)
				case errors.Is(pctx.Err(), context.DeadlineExceeded):
					t.Errorf("no answer within 10s (%v): want the broker to refuse, not a timeout", err)
				default:
					t.Logf("refused: %v", err)
				}
				// and nothing it sent reached the topic: checked by the
				// service principal above reading only what it wrote
			})
		}
	}
	t.Run("admin on the host listener", func(t *testing.T) {
		c := client(t, hostAddr, kgo.SASL(plain.Auth{User: "admin", Pass: adminPW}.AsMechanism()))
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		defer pcancel()
		if err := c.Ping(pctx); err == nil {
			t.Fatal("admin (PLAIN) authenticated on the host listener: PLAIN is the internal listener's only")
		}
	})
}

func readSecret(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
