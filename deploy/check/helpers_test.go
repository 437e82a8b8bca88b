package check

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// services is every service docker-compose.yml and the chart run (the
// supervisor is for bare metal and edge hosts: see deploy/README.md).
var services = []string{
	"meter-simulator", "mqtt-gateway", "reading-validator", "gap-detector",
	"usage-aggregator", "feeder-aggregator", "outage-detector", "hot-pond",
	"raw-archiver", "river-archiver", "heartbeat-monitor", "registry",
	"demand-tracker", "clock-watch", "dlq-replayer", "command-dispatcher", "alert-router", "console",
	"usage-insights",
	"load-forecaster",
	"billing-estimator",
}

// variants are compose services that run another version of a service
// above from its image (versions side by side), by the name they run as.
var variants = map[string]string{
	"billing-estimator-v2": "billing-estimator",
}

// repoRoot is the repository root: this package lives in deploy/check.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("repository root %s has no go.work: %v", root, err)
	}
	return root
}

// readFile returns the content of a file under the repository root.
func readFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var envLine = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=(.*)$`)

// dotenvKeys returns the variables a .env-style file sets.
func dotenvKeys(t testing.TB, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, rel)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := envLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: %q is not NAME=value", rel, line)
		}
		out[m[1]] = m[2]
	}
	return out
}

var quotedEnvName = regexp.MustCompile(`"([A-Z][A-Z0-9_]{2,})"`)

// sdkVariables returns the environment variables the rivers SDK (and the
// rapids Kafka configuration under it) reads, from their source.
func sdkVariables(t testing.TB) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range []string{"rivers/config.go", "rapids/config.go"} {
		for _, m := range quotedEnvName.FindAllStringSubmatch(readFile(t, f), -1) {
			out[m[1]] = true
		}
	}
	for _, must := range []string{"KAFKA_BROKERS", "HTTP_ADDR", "ENSURE_TOPICS", "LOG_LEVEL"} {
		if !out[must] {
			t.Fatalf("the SDK's variables read from rivers/config.go and rapids/config.go lack %s: has the SDK changed?", must)
		}
	}
	return out
}

// serviceDocs returns the text of a service's documentation: every doc.go
// in its module's top two levels and its README.md. Empty when none exists.
func serviceDocs(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "services", name)
	var files []string
	for _, pat := range []string{"doc.go", "*/doc.go", "README.md"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
