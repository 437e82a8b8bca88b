//go:build !docker

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// kafkaUnderTest is the broker of scripts/testenv/up.sh, described by the
// WATERSHED_TEST_KAFKA* variables (see the package documentation).
func kafkaUnderTest(t testing.TB) *kafka {
	t.Helper()
	addr := requireEnv(t, "WATERSHED_TEST_KAFKA", "real Apache Kafka")
	k := &kafka{From: "testenv", Brokers: strings.Split(addr, ","), Version: os.Getenv("WATERSHED_TEST_KAFKA_VERSION")}
	if sasl := os.Getenv("WATERSHED_TEST_KAFKA_SASL"); sasl != "" {
		k.SASL = &saslListener{
			Brokers:   strings.Split(sasl, ","),
			Mechanism: os.Getenv("WATERSHED_TEST_KAFKA_SASL_MECHANISM"),
			User:      os.Getenv("WATERSHED_TEST_KAFKA_SASL_USER"),
			Password:  os.Getenv("WATERSHED_TEST_KAFKA_SASL_PASSWORD"),
		}
	} else {
		k.SASLWhy = "WATERSHED_TEST_KAFKA_SASL not set (scripts/testenv/up.sh starts one unless WATERSHED_TESTENV_SKIP has kafka-sasl)"
	}
	if script := os.Getenv("WATERSHED_TESTENV_KAFKA_SH"); script != "" {
		run := func(verb string) func(ctx context.Context) error {
			return func(ctx context.Context) error {
				out, err := exec.CommandContext(ctx, script, verb).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%s %s: %w\n%s", script, verb, err, out)
				}
				return nil
			}
		}
		k.Stop, k.Start = run("stop"), run("start")
	} else {
		k.RestartWhy = "WATERSHED_TESTENV_KAFKA_SH not set: no script to stop and start the broker"
	}
	if k.Kcat = os.Getenv("WATERSHED_TEST_KCAT"); k.Kcat == "" {
		k.KcatWhy = "WATERSHED_TEST_KCAT not set: no kcat"
	}
	return k
}
