package rivers

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestConfigFromEnvDefaults(t *testing.T) {
	c, err := configFromLookup("gap-detector", "1.4.2", lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "gap-detector" || c.Version != "1.4.2" || c.Group != "gap-detector" || c.HTTPAddr != ":8080" ||
		c.HeartbeatInterval != 5*time.Second || c.MaxHops != 10 || c.DedupWindow != 10*time.Minute ||
		c.Retry.Attempts != 5 || c.LogFormat != "json" || c.TracesExporter != TracesNone ||
		c.Kafka.Topics.Rivers != "rivers" || c.StartOffset != "earliest" || c.Instance == "" {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.ttl("system.heartbeat.v1"); got != 15*time.Second {
		t.Errorf("heartbeat TTL %s, want 3 × 5s", got)
	}
	if got := c.ttl("meter.reading.v1"); got != 24*time.Hour {
		t.Errorf("default TTL %s, want 24h", got)
	}
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", "k1:9092,k2:9092") // read by rapids.ConfigFromEnv
	c, err := configFromLookup("x", "", lookupFrom(map[string]string{
		"SERVICE_NAME": "usage-aggregator", "SERVICE_VERSION": "2.0.0", "SERVICE_INSTANCE": "pod-7",
		"KAFKA_GROUP": "usage-v2", "KAFKA_START_OFFSET": "LATEST", "ENSURE_TOPICS": "false", "HTTP_ADDR": "127.0.0.1:9000",
		"HEARTBEAT_INTERVAL": "2s", "SHUTDOWN_TIMEOUT": "7s", "DEDUP_WINDOW": "1m", "DEDUP_SIZE": "50",
		"MAX_HOPS": "4", "MAX_EVENT_BYTES": "2048", "HANDLER_TIMEOUT": "-1s", "RETRY_ATTEMPTS": "2",
		"RETRY_BACKOFF": "10ms", "RETRY_MAX_BACKOFF": "1s", "MAX_IN_FLIGHT": "10", "CONCURRENCY": "3", "MAX_BATCH": "64", "EVENT_TTL": "never",
		"EVENT_TTLS": "meter.reading.v1=2h, outage.suspected.v1=30m", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text",
		"OTEL_TRACES_EXPORTER": "console",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "usage-aggregator", Version: "2.0.0", Instance: "pod-7", Group: "usage-v2", StartOffset: "latest",
		SkipEnsureTopics: true, HTTPAddr: "127.0.0.1:9000", HeartbeatInterval: 2 * time.Second, ShutdownTimeout: 7 * time.Second,
		DedupWindow: time.Minute, DedupSize: 50, MaxHops: 4, MaxEventBytes: 2048, HandlerTimeout: -time.Second,
		Retry: RetryPolicy{Attempts: 2, Backoff: 10 * time.Millisecond, MaxBackoff: time.Second}, MaxInFlight: 10, Concurrency: 3, MaxBatch: 64,
		DefaultTTL: -1, LogLevel: "debug", LogFormat: "text", TracesExporter: TracesConsole}
	if len(c.Kafka.Brokers) != 2 || c.Kafka.Brokers[1] != "k2:9092" {
		t.Errorf("KAFKA_BROKERS: %v", c.Kafka.Brokers)
	}
	c.Kafka, c.TTLs = want.Kafka, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	c2, _ := configFromLookup("x", "", lookupFrom(map[string]string{"EVENT_TTLS": "meter.reading.v1=2h,outage.suspected.v1=30m"}))
	if c2.ttl("meter.reading.v1") != 2*time.Hour || c2.ttl("outage.suspected.v1") != 30*time.Minute {
		t.Errorf("EVENT_TTLS: %v", c2.TTLs)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	for env, value := range map[string]string{
		"SERVICE_NAME":         "Gap_Detector",
		"HEARTBEAT_INTERVAL":   "soon",
		"SHUTDOWN_TIMEOUT":     "-5s",
		"DEDUP_SIZE":           "lots",
		"MAX_HOPS":             "0",
		"HANDLER_TIMEOUT":      "0",
		"RETRY_ATTEMPTS":       "-1",
		"EVENT_TTL":            "0s",
		"EVENT_TTLS":           "meter.reading.v1",
		"LOG_LEVEL":            "loud",
		"LOG_FORMAT":           "xml",
		"OTEL_TRACES_EXPORTER": "jaeger",
		"KAFKA_START_OFFSET":   "middle",
		"ENSURE_TOPICS":        "perhaps",
		"HTTP_ADDR":            "8080",
	} {
		_, err := configFromLookup("svc", "1", lookupFrom(map[string]string{env: value}))
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%q: error %v, want one naming %s", env, value, err, env)
		}
	}
	t.Setenv("KAFKA_BROKERS", "no-port")
	if _, err := ConfigFromEnv("svc", "1"); err == nil || !strings.Contains(err.Error(), "KAFKA_BROKERS") {
		t.Errorf("KAFKA_BROKERS=no-port: error %v, want one naming KAFKA_BROKERS", err)
	}
	if _, err := NewService(Config{Name: "ok", Retry: RetryPolicy{Backoff: time.Second, MaxBackoff: time.Millisecond}}); err == nil ||
		!strings.Contains(err.Error(), "RETRY_MAX_BACKOFF") {
		t.Errorf("NewService with MaxBackoff < Backoff: %v", err)
	}
}
