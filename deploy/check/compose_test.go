package check

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// Variables every service must get from docker-compose.yml: their defaults
// are right on a developer's machine and wrong in a container.
var commonRequired = []string{"KAFKA_BROKERS", "KAFKA_TOPIC_RAPIDS", "KAFKA_TOPIC_RIVERS", "HTTP_ADDR", "ENSURE_TOPICS"}

// requiredEnv lists, per service, the variables it needs set beyond
// commonRequired: the store it writes to and its credentials. Each
// service's documentation is cross-checked: a variable it documents as
// required must be listed here (TestComposeRequiredEnvironment).
var requiredEnv = map[string][]string{
	"mqtt-gateway":       {"MQTT_URL", "MQTT_USERNAME", "MQTT_PASSWORD"},
	"gap-detector":       {"REDIS_URL", "REDIS_USERNAME", "REDIS_PASSWORD"},
	"hot-pond":           {"REDIS_URL", "REDIS_USERNAME", "REDIS_PASSWORD", "HOTPOND_API_TOKEN"},
	"console":            {"CONSOLE_HOTPOND_TOKEN"},
	"command-dispatcher": {"REDIS_URL", "REDIS_USERNAME", "REDIS_PASSWORD"},
	"raw-archiver":       {"PONDS_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
	"river-archiver":     {"PONDS_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
	"alert-router":       {"REDIS_URL", "REDIS_USERNAME", "REDIS_PASSWORD"},
}

// dependsOn lists the infrastructure each service must wait for, with the
// condition; every service waits for the topic bootstrap.
func dependsOn(name string) map[string]string {
	deps := map[string]string{"topics": types.ServiceConditionCompletedSuccessfully}
	for _, v := range requiredEnv[name] {
		switch v {
		case "REDIS_URL":
			deps["redis"] = types.ServiceConditionHealthy
		case "PONDS_URL":
			deps["buckets"] = types.ServiceConditionCompletedSuccessfully
		case "MQTT_URL":
			deps["mosquitto"] = types.ServiceConditionHealthy
		}
	}
	return deps
}

// initSecrets runs deploy/init-secrets.sh into a fresh directory.
func initSecrets(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "secrets")
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "deploy", "init-secrets.sh"))
	cmd.Env = append(os.Environ(), "WATERSHED_SECRETS_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/init-secrets.sh: %v\n%s", err, out)
	}
	return dir
}

// loadCompose loads docker-compose.yml the way `docker compose` does, with
// deploy/.env.example as the .env, the secrets in secretsDir and every
// profile: schema validation, interpolation, normalization and the
// consistency check all run.
func loadCompose(t *testing.T, secretsDir string) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv([]string{"WATERSHED_SECRETS_DIR=" + secretsDir}),
		cli.WithEnvFiles(filepath.Join(root, "deploy", ".env.example")),
		cli.WithDotEnv,
		cli.WithProfiles([]string{"*"}),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func composeProject(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, initSecrets(t))
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeLoads(t *testing.T) {
	p := composeProject(t)
	for _, infra := range []string{"kafka", "topics", "redis", "s3", "buckets", "mosquitto", "otel-collector"} {
		if _, ok := p.Services[infra]; !ok {
			t.Errorf("service %s missing", infra)
		}
	}
	if otel := p.Services["otel-collector"]; !slices.Equal(otel.Profiles, []string{"otel"}) {
		t.Errorf("otel-collector: profiles %v, want [otel] (optional)", otel.Profiles)
	}
}

func TestComposeNeedsSecrets(t *testing.T) {
	// Without deploy/init-secrets.sh there are no credentials, and compose
	// must refuse to start rather than run with none.
	_, err := loadCompose(t, filepath.Join(t.TempDir(), "none"))
	if err == nil {
		t.Fatal("docker-compose.yml loaded without any secrets: env files must be required")
	}
	if !strings.Contains(err.Error(), ".env") {
		t.Fatalf("error does not name the missing env file: %v", err)
	}
}

func TestComposeServicesBuildFromOneDockerfile(t *testing.T) {
	p := composeProject(t)
	root := repoRoot(t)
	var built []string
	for name, s := range p.Services {
		if s.Build != nil {
			built = append(built, name)
		}
	}
	slices.Sort(built)
	want := slices.Clone(services)
	slices.Sort(want)
	if !slices.Equal(built, want) {
		t.Fatalf("services built from source: %v\nwant: %v", built, want)
	}
	goWork := readFile(t, "go.work")
	modules := readFile(t, "modules.txt")
	for _, name := range services {
		t.Run(name, func(t *testing.T) {
			b := p.Services[name].Build
			df := b.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(b.Context, df)
			}
			if df != filepath.Join(root, "deploy", "service.Dockerfile") {
				t.Errorf("dockerfile %s, want deploy/service.Dockerfile with the repository root as context", df)
			}
			if _, err := os.Stat(df); err != nil {
				t.Errorf("dockerfile: %v", err)
			}
			arg := b.Args["SERVICE"]
			if arg == nil || *arg != name {
				t.Fatalf("build arg SERVICE = %v, want %q", arg, name)
			}
			main, err := os.ReadFile(filepath.Join(root, "services", name, "main.go"))
			if err != nil {
				t.Fatalf("services/%s/main.go: %v (the image cannot be built)", name, err)
			}
			if !regexp.MustCompile(`(?m)^package main\b`).Match(main) {
				t.Errorf("services/%s/main.go is not package main", name)
			}
			if !regexp.MustCompile(`(?m)^\s*\./services/` + regexp.QuoteMeta(name) + `\s*$`).MatchString(goWork) {
				t.Errorf("go.work does not use ./services/%s", name)
			}
			if !regexp.MustCompile(`(?m)^services/` + regexp.QuoteMeta(name) + `\s+v\d+\.\d+\.\d+\S*\s*$`).MatchString(modules) {
				t.Errorf("modules.txt has no version for services/%s: the Dockerfile takes VERSION from it", name)
			}
		})
	}
}

func TestComposeServicesHardened(t *testing.T) {
	p := composeProject(t)
	names := slices.Clone(services)
	for v := range variants {
		names = append(names, v)
	}
	for _, name := range names {
		s := p.Services[name]
		t.Run(name, func(t *testing.T) {
			if !s.ReadOnly {
				t.Error("read_only is not true")
			}
			if !slices.Contains(s.CapDrop, "ALL") {
				t.Errorf("cap_drop %v lacks ALL", s.CapDrop)
			}
			if len(s.CapAdd) > 0 {
				t.Errorf("cap_add %v", s.CapAdd)
			}
			if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("security_opt %v lacks no-new-privileges:true", s.SecurityOpt)
			}
			if s.Privileged {
				t.Error("privileged")
			}
			if uid, _, _ := strings.Cut(s.User, ":"); uid == "" || uid == "0" || uid == "root" {
				t.Errorf("user %q: want a non-root uid", s.User)
			}
			if !slices.ContainsFunc(s.Tmpfs, func(m string) bool { return m == "/tmp" || strings.HasPrefix(m, "/tmp:") }) {
				t.Errorf("tmpfs %v: want /tmp (the root filesystem is read-only)", s.Tmpfs)
			}
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("restart %q, want unless-stopped", s.Restart)
			}
			hc := s.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] != "CMD" || hc.Test[1] != "/usr/local/bin/probe" {
				t.Errorf("healthcheck %+v: want [CMD /usr/local/bin/probe ...] (distroless has no shell)", hc)
			} else if !strings.HasSuffix(hc.Test[len(hc.Test)-1], ":8080/readyz") {
				t.Errorf("healthcheck probes %q, want the service's /readyz on 8080", hc.Test[len(hc.Test)-1])
			}
			for dep, cond := range dependsOn(name) {
				got, ok := s.DependsOn[dep]
				if !ok || got.Condition != cond {
					t.Errorf("depends_on %s: %+v, want condition %s", dep, got, cond)
				}
			}
		})
	}
}

func TestComposeDependenciesWaitForHealth(t *testing.T) {
	p := composeProject(t)
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy && d.Condition != types.ServiceConditionCompletedSuccessfully {
				t.Errorf("%s depends on %s with condition %q: want service_healthy or service_completed_successfully", name, dep, d.Condition)
			}
			if d.Condition == types.ServiceConditionHealthy {
				if hc := p.Services[dep].HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			}
		}
	}
	for _, infra := range []string{"kafka", "redis", "s3", "mosquitto"} {
		s := p.Services[infra]
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			t.Errorf("%s has no healthcheck", infra)
		}
		if !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: cap_drop %v security_opt %v: want ALL and no-new-privileges:true", infra, s.CapDrop, s.SecurityOpt)
		}
	}
}

func TestComposeRequiredEnvironment(t *testing.T) {
	p := composeProject(t)
	sdk := sdkVariables(t)
	hotDoc := readFile(t, "ponds/hot/doc.go")
	requiredLine := regexp.MustCompile(`(?m)^//\s+([A-Z][A-Z0-9_]{2,})\b.*(?i:required)`)
	for _, name := range services {
		t.Run(name, func(t *testing.T) {
			env := p.Services[name].Environment
			want := append(slices.Clone(commonRequired), requiredEnv[name]...)
			for _, k := range want {
				if v := env[k]; v == nil || strings.TrimSpace(*v) == "" {
					t.Errorf("%s is required but not set", k)
				}
			}
			docs := serviceDocs(t, name)
			if docs == "" {
				t.Fatalf("services/%s has no doc.go or README.md documenting its variables", name)
			}
			// What the service documents as required must be listed above.
			for _, m := range requiredLine.FindAllStringSubmatch(docs, -1) {
				if !slices.Contains(want, m[1]) {
					t.Errorf("services/%s documents %s as required; add it to requiredEnv and docker-compose.yml", name, m[1])
				}
			}
			// Every variable compose sets is one the service reads: the
			// SDK's, Redis's (ponds/hot), the AWS SDK's, OpenTelemetry's, or
			// documented by the service itself (a misspelt name fails).
			for _, k := range sortedKeys(env) {
				switch {
				case sdk[k], strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "OTEL_"):
				case strings.HasPrefix(k, "REDIS_") && strings.Contains(hotDoc, k):
				case regexp.MustCompile(`\b` + k + `\b`).MatchString(docs):
				default:
					t.Errorf("compose sets %s, which neither the SDK nor services/%s documents", k, name)
				}
			}
		})
	}
}

func TestComposeSecretsStayOutOfTheFile(t *testing.T) {
	var raw struct {
		Services map[string]struct {
			Environment any `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "docker-compose.yml")), &raw); err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`(?i)(PASSWORD|SECRET|ACCESS_KEY|TOKEN)`)
	for name, s := range raw.Services {
		env, _ := s.Environment.(map[string]any)
		for k := range env {
			if secret.MatchString(k) && k != "<<" {
				t.Errorf("%s sets %s in docker-compose.yml: credentials come from deploy/secrets (env_file or secrets)", name, k)
			}
		}
	}
	if len(raw.Services) == 0 {
		t.Fatal("no services decoded")
	}
	p := composeProject(t)
	for _, name := range []string{"hot-pond", "raw-archiver", "mqtt-gateway"} {
		var fromSecrets bool
		for _, f := range p.Services[name].EnvFiles {
			fromSecrets = fromSecrets || (bool(f.Required) && strings.Contains(f.Path, "secrets"))
		}
		if !fromSecrets {
			t.Errorf("%s: env_file %+v: want its credentials from a required file under the secrets directory", name, p.Services[name].EnvFiles)
		}
	}
}

func TestComposePortsOnLoopback(t *testing.T) {
	p := composeProject(t)
	published := 0
	for name, s := range p.Services {
		for _, port := range s.Ports {
			published++
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s:%s: with the default .env every port binds 127.0.0.1", name, port.HostIP, port.Published)
			}
		}
	}
	if published == 0 {
		t.Fatal("no published ports: the host listeners (Kafka, MQTT, registry) are gone")
	}
}

var composeVar = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)`)

func TestComposeSettingsDocumented(t *testing.T) {
	example := dotenvKeys(t, "deploy/.env.example")
	used := map[string]bool{}
	for _, m := range composeVar.FindAllStringSubmatch(readFile(t, "docker-compose.yml"), -1) {
		used[m[1]] = true
	}
	for _, k := range sortedKeys(used) {
		if _, ok := example[k]; !ok {
			t.Errorf("docker-compose.yml reads ${%s}, which deploy/.env.example does not document", k)
		}
	}
	for _, k := range sortedKeys(example) {
		if !used[k] {
			t.Errorf("deploy/.env.example sets %s, which docker-compose.yml does not use", k)
		}
	}
}

func TestComposeTopicsAndMetricsCoverEverything(t *testing.T) {
	p := composeProject(t)
	topics := p.Services["topics"]
	script := strings.Join(topics.Command, " ")
	for _, want := range []string{"kafka-topics.sh", "--create", "--if-not-exists", ".dlq"} {
		if !strings.Contains(script, want) {
			t.Errorf("topics command lacks %q", want)
		}
	}
	if topics.Image != p.Services["kafka"].Image {
		t.Errorf("topics image %s, want the broker's %s (its kafka-topics.sh)", topics.Image, p.Services["kafka"].Image)
	}
	var col struct {
		Receivers struct {
			Prometheus struct {
				Config struct {
					ScrapeConfigs []struct {
						StaticConfigs []struct {
							Targets []string `yaml:"targets"`
						} `yaml:"static_configs"`
					} `yaml:"scrape_configs"`
				} `yaml:"config"`
			} `yaml:"prometheus"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "deploy/otel/collector.yaml")), &col); err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, sc := range col.Receivers.Prometheus.Config.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				targets[tg] = true
			}
		}
	}
	for _, name := range services {
		if !targets[name+":8080"] {
			t.Errorf("deploy/otel/collector.yaml does not scrape %s:8080", name)
		}
	}
	for name := range variants {
		if !targets[name+":8080"] {
			t.Errorf("deploy/otel/collector.yaml does not scrape %s:8080", name)
		}
	}
	if len(targets) != len(services)+len(variants) {
		t.Errorf("collector scrapes %d targets, compose runs %d services", len(targets), len(services)+len(variants))
	}
}
