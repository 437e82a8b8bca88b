//go:build docker

package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DefaultKafkaImage is the Apache Kafka image of the docker suite;
// WATERSHED_DOCKER_KAFKA_IMAGE overrides it.
const DefaultKafkaImage = "apache/kafka:4.1.0"

var docker struct {
	once sync.Once
	k    *kafka
	ctr  testcontainers.Container
	skip string // why the suite skips: no Docker engine
	err  error  // the container did not start
}

func TestMain(m *testing.M) {
	code := m.Run()
	if docker.ctr != nil {
		if err := testcontainers.TerminateContainer(docker.ctr); err != nil {
			fmt.Fprintf(os.Stderr, "integration: terminating the Kafka container: %v\n", err)
		}
	}
	os.Exit(code)
}

// kafkaUnderTest starts (once) an Apache Kafka container with a PLAINTEXT
// and a SASL_PLAINTEXT (SCRAM-SHA-512) listener on fixed loopback ports,
// so that stopping and starting the container keeps its advertised
// addresses. Without a Docker engine the test skips and says so.
func kafkaUnderTest(t testing.TB) *kafka {
	t.Helper()
	docker.once.Do(startDocker)
	if docker.skip != "" {
		t.Skip(docker.skip)
	}
	if docker.err != nil {
		t.Fatal(docker.err)
	}
	return docker.k
}

func startDocker() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	provider, err := testcontainers.ProviderDefault.GetProvider()
	if err == nil {
		defer provider.Close()
		err = provider.Health(ctx)
	}
	if err != nil {
		docker.skip = "no Docker engine: " + err.Error() + " (the real-broker suite, scripts/test.sh, is what CI runs)"
		return
	}
	image := os.Getenv("WATERSHED_DOCKER_KAFKA_IMAGE")
	if image == "" {
		image = DefaultKafkaImage
	}
	plain, sasl := freePort(), freePort()
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	password := hex.EncodeToString(pw)
	ctr, err := testcontainers.Run(ctx, image,
		testcontainers.WithExposedPorts("9092/tcp", "9094/tcp"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			lo := netip.MustParseAddr("127.0.0.1")
			hc.PortBindings = network.PortMap{
				network.MustParsePort("9092/tcp"): {{HostIP: lo, HostPort: strconv.Itoa(plain)}},
				network.MustParsePort("9094/tcp"): {{HostIP: lo, HostPort: strconv.Itoa(sasl)}},
			}
		}),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader:            strings.NewReader("KafkaServer { org.apache.kafka.common.security.scram.ScramLoginModule required; };\n"),
			ContainerFilePath: "/opt/kafka/config/watershed_jaas.conf", FileMode: 0o644,
		}),
		testcontainers.WithEnv(map[string]string{
			"KAFKA_NODE_ID":                                  "1",
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_LISTENERS":                                "PLAINTEXT://:9092,CONTROLLER://:9093,SASL://:9094",
			"KAFKA_ADVERTISED_LISTENERS":                     fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,SASL://127.0.0.1:%d", plain, sasl),
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL:SASL_PLAINTEXT",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9093",
			"KAFKA_INTER_BROKER_LISTENER_NAME":               "PLAINTEXT",
			"KAFKA_SASL_ENABLED_MECHANISMS":                  "SCRAM-SHA-512",
			"KAFKA_OPTS":                                     "-Djava.security.auth.login.config=/opt/kafka/config/watershed_jaas.conf",
			"KAFKA_NUM_PARTITIONS":                           "3",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
			"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":             "10",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
			"KAFKA_HEAP_OPTS":                                "-Xms256m -Xmx512m",
		}),
		testcontainers.WithWaitStrategyAndDeadline(3*time.Minute, wait.ForListeningPort("9092/tcp")),
	)
	if ctr != nil {
		docker.ctr = ctr
	}
	if err != nil {
		docker.err = fmt.Errorf("starting %s: %w", image, err)
		return
	}
	brokers := []string{fmt.Sprintf("127.0.0.1:%d", plain)}
	if err := waitAnswering(ctx, brokers); err != nil {
		docker.err = fmt.Errorf("%s: %w", image, err)
		return
	}
	// The SCRAM user, written through the admin API as the testenv does at format time.
	code, _, err := ctr.Exec(ctx, []string{"/opt/kafka/bin/kafka-configs.sh", "--bootstrap-server", "localhost:9092", "--alter",
		"--add-config", "SCRAM-SHA-512=[password=" + password + "]", "--entity-type", "users", "--entity-name", "watershed"})
	k := &kafka{From: "docker " + image, Brokers: brokers, Version: image, Kcat: os.Getenv("WATERSHED_TEST_KCAT")}
	if err != nil || code != 0 {
		k.SASLWhy = fmt.Sprintf("creating the SCRAM user in %s failed (exit %d): %v", image, code, err)
	} else {
		k.SASL = &saslListener{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", sasl)}, Mechanism: "SCRAM-SHA-512", User: "watershed", Password: password}
	}
	if k.Kcat == "" {
		k.KcatWhy = "WATERSHED_TEST_KCAT not set: no kcat on this host"
	}
	k.Stop = func(ctx context.Context) error {
		grace := 30 * time.Second
		return ctr.Stop(ctx, &grace)
	}
	k.Start = func(ctx context.Context) error {
		if err := ctr.Start(ctx); err != nil {
			return err
		}
		return waitAnswering(ctx, brokers)
	}
	docker.k = k
}

// waitAnswering waits until the broker answers a metadata request.
func waitAnswering(ctx context.Context, brokers []string) error {
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 5 * time.Second}
	for {
		_, err := client.Metadata(ctx, &kafkago.MetadataRequest{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker at %v not answering: %w", brokers, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("integration: no free loopback port: %v", err))
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
