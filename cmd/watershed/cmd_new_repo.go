package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"unicode"
)

// The files `watershed new service` changes to add a service to the
// repository, relative to its root: the same places an existing service
// such as clock-watch appears in.
const (
	cliGoMod       = "cmd/watershed/go.mod"
	devMembers     = "cmd/watershed/internal/ecosystem/members.go"
	composeFile    = "docker-compose.yml"
	collectorFile  = "deploy/otel/collector.yaml"
	helmValues     = "helm/watershed/values.yaml"
	helmSchema     = "helm/watershed/values.schema.json"
	helmServices   = "helm/watershed/templates/services"
	deployCheck    = "deploy/check/helpers_test.go"
	buildImages    = "scripts/build-images.sh"
	initSecrets    = "deploy/init-secrets.sh"
	devMarker      = "Services made by `watershed new service`"
	serviceModRoot = "github.com/watershed-grid/watershed/services/"
)

// repoFiles are the files that must exist before anything is written, so a
// service is added everywhere or nowhere.
var repoFiles = []string{"go.work", "modules.txt", cliGoMod, devMembers, composeFile, collectorFile,
	helmValues, helmSchema, helmServices, deployCheck, buildImages, initSecrets}

// addService adds the rendered service name (package pkg) to every list of
// the repository at the working directory, described by summary in the
// deployment files. Each step leaves a file that already has it alone.
func addService(name, pkg, summary string) error {
	rel := "services/" + name
	steps := []struct {
		file string
		add  func() error
	}{
		{"go.work", func() error { return addToGoWork("go.work", rel) }},
		{"modules.txt", func() error { return addToModulesTxt("modules.txt", rel, "v0.1.0") }},
		{cliGoMod, func() error { return addToCLIGoMod(cliGoMod, name) }},
		{devMembers, func() error { return addDevMember(filepath.Dir(devMembers), name, pkg) }},
		{composeFile, func() error { return addToCompose(composeFile, name, summary) }},
		{collectorFile, func() error { return addToCollector(collectorFile, name) }},
		{helmValues, func() error { return addToHelm(name, summary) }},
		{deployCheck, func() error { return addToDeployCheck(deployCheck, name) }},
		{buildImages, func() error { return addToBuildImages(buildImages, name) }},
		{initSecrets, func() error { return addToBashList(initSecrets, "kafka_services=(", name) }},
	}
	for _, s := range steps {
		if err := s.add(); err != nil {
			return fmt.Errorf("new service: %s: %w (the steps before it are done; add %s there by hand, and to the files after it: %s)",
				s.file, err, name, strings.Join(repoFiles, ", "))
		}
	}
	return nil
}

// insertSorted inserts line into lines[start:end] (a block of entries),
// keeping it sorted by trimmed text; it returns lines unchanged when the
// block holds it already.
func insertSorted(lines []string, start, end int, line string) []string {
	block := slices.Clone(lines[start:end])
	if slices.ContainsFunc(block, func(l string) bool { return strings.TrimSpace(l) == strings.TrimSpace(line) }) {
		return lines
	}
	block = append(block, line)
	slices.SortStableFunc(block, func(a, b string) int { return strings.Compare(strings.TrimSpace(a), strings.TrimSpace(b)) })
	return slices.Concat(lines[:start], block, lines[end:])
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Split(string(b), "\n"), nil
}

// addToCLIGoMod requires the service's module in the watershed CLI's
// go.mod (`watershed dev` links it) and replaces it by its directory, so
// the CLI builds with GOWORK=off too.
func addToCLIGoMod(path, name string) error {
	lines, err := readLines(path)
	if err != nil {
		return err
	}
	mod := serviceModRoot + name
	if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, mod+" ") }) {
		return nil
	}
	start := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == "require (" })
	if start < 0 {
		return fmt.Errorf("no require ( ... ) block for %s v0.0.0", mod)
	}
	end := start + 1
	for end < len(lines) && strings.TrimSpace(lines[end]) != ")" {
		end++
	}
	lines = insertSorted(lines, start+1, end, "\t"+mod+" v0.0.0")
	text := strings.TrimRight(strings.Join(lines, "\n"), "\n")
	text += fmt.Sprintf("\n\nreplace %s => ../../services/%s\n", mod, name)
	return writeKeepingMode(path, text)
}

var memberFile = template.Must(template.New("member").Parse(`package ecosystem

import (
	"github.com/watershed-grid/watershed/rivers"
	"{{.Module}}/{{.Package}}"
)

// {{.Func}} is {{.Name}} in ` + "`watershed dev`" + `, configured from
// its environment as when it runs alone. ` + "`watershed new service`" + ` wrote it;
// change it when the service needs more from dev (a data directory, the dev
// Redis: see members.go).
func {{.Func}}() (string, func() (func(*rivers.Service) error, error)) {
	return {{.Package}}.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := {{.Package}}.ConfigFromEnv()
		return func(svc *rivers.Service) error { return {{.Package}}.Register(svc, cfg) }, err
	}
}
`))

// addDevMember writes members_<pkg>.go in the ecosystem package at dir and
// adds its line to Members, after the marker comment.
func addDevMember(dir, name, pkg string) error {
	fn := memberFunc(name)
	var b bytes.Buffer
	if err := memberFile.Execute(&b, map[string]string{"Module": serviceModRoot + name, "Package": pkg, "Name": name, "Func": fn}); err != nil {
		return err
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "members.go")
	lines, err := readLines(path)
	if err != nil {
		return err
	}
	at := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, devMarker) })
	if at < 0 {
		return fmt.Errorf("no %q comment in Members: add member(%s()) to it yourself", devMarker, fn)
	}
	start := at + 1
	for start < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[start]), "//") {
		start++
	}
	end := start
	for end < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[end]), "member(") && strings.HasSuffix(lines[end], "Member())") {
		end++
	}
	lines = insertSorted(lines, start, end, "\tmember("+fn+"())")
	if err := os.WriteFile(filepath.Join(dir, "members_"+pkg+".go"), src, 0o644); err != nil {
		return err
	}
	return writeKeepingMode(path, strings.Join(lines, "\n"))
}

// memberFunc is the Go name of a service's member function: usageAlertsMember.
func memberFunc(name string) string {
	parts := strings.Split(name, "-")
	for i := 1; i < len(parts); i++ {
		r := []rune(parts[i])
		r[0] = unicode.ToUpper(r[0])
		parts[i] = string(r)
	}
	return strings.Join(parts, "") + "Member"
}

// topLevelEnd returns the index of the first line after the YAML mapping
// under the top-level key (the next top-level key, or the end), and the
// key's own line; -1 when the key is absent.
func topLevelEnd(lines []string, key string) (at, end int) {
	at = slices.Index(lines, key+":")
	if at < 0 {
		return -1, -1
	}
	end = at + 1
	for end < len(lines) && (lines[end] == "" || lines[end][0] == ' ' || lines[end][0] == '#') {
		end++
	}
	for end > at+1 && strings.TrimSpace(lines[end-1]) == "" {
		end--
	}
	return at, end
}

// hasYAMLKey reports whether lines[at:end] hold "  name:" at two spaces.
func hasYAMLKey(lines []string, at, end int, name string) bool {
	return slices.ContainsFunc(lines[at:end], func(l string) bool { return strings.HasPrefix(l, "  "+name+":") })
}

// addToCompose adds the service to docker-compose.yml as the simple
// services are: the app defaults, the image built from
// deploy/service.Dockerfile, started once the topics exist.
func addToCompose(path, name, summary string) error {
	lines, err := readLines(path)
	if err != nil {
		return err
	}
	at, end := topLevelEnd(lines, "services")
	if at < 0 {
		return fmt.Errorf("no top-level services: key")
	}
	if hasYAMLKey(lines, at, end, name) {
		return nil
	}
	block := strings.Split(fmt.Sprintf(`
  %[1]s: # %[2]s
    <<: *app
    image: ${WATERSHED_IMAGE_PREFIX:-watershed}/%[1]s:${WATERSHED_IMAGE_TAG:-dev}
    build:
      <<: *build
      args:
        SERVICE: %[1]s
    depends_on:
      topics:
        condition: service_completed_successfully
    env_file:
      - path: ${WATERSHED_SECRETS_DIR:-./deploy/secrets}/kafka-%[1]s.env
        required: true # KAFKA_SASL_*: its own Kafka principal`, name, summary), "\n")
	return writeKeepingMode(path, strings.Join(slices.Concat(lines[:end], block, lines[end:]), "\n"))
}

var scrapeTarget = regexp.MustCompile(`^(\s+)- [a-z0-9-]+:8080$`)

// addToCollector adds the service's /metrics to the collector's scrape
// targets, after the last one.
func addToCollector(path, name string) error {
	lines, err := readLines(path)
	if err != nil {
		return err
	}
	last := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "- "+name+":8080" {
			return nil
		}
		if scrapeTarget.MatchString(l) {
			last = i
		}
	}
	if last < 0 {
		return fmt.Errorf("no scrape targets (- <service>:8080) to add %s:8080 to", name)
	}
	indent := scrapeTarget.FindStringSubmatch(lines[last])[1]
	return writeKeepingMode(path, strings.Join(slices.Insert(lines, last+1, indent+"- "+name+":8080"), "\n"))
}

// addToHelm adds the service to the chart: its values (on, one replica,
// no stores), its key in the values schema, and its template.
func addToHelm(name, summary string) error {
	lines, err := readLines(helmValues)
	if err != nil {
		return err
	}
	at, end := topLevelEnd(lines, "services")
	if at < 0 {
		return fmt.Errorf("no top-level services: key")
	}
	if !hasYAMLKey(lines, at, end, name) {
		block := strings.Split(fmt.Sprintf(`
  # %s.
  %s:
    enabled: true
    replicas: 1
    uses: {redis: false, objectStore: false, mqtt: false}
    env: {}`, strings.ToUpper(summary[:1])+summary[1:], name), "\n")
		if err := writeKeepingMode(helmValues, strings.Join(slices.Concat(lines[:end], block, lines[end:]), "\n")); err != nil {
			return err
		}
	}
	if err := addToHelmSchema(helmSchema, name); err != nil {
		return fmt.Errorf("%s: %w", helmSchema, err)
	}
	tmpl := fmt.Sprintf("{{- /* %[1]s: Deployment, Service, ServiceAccount, NetworkPolicy, PodDisruptionBudget (see _service.tpl). */ -}}\n"+
		"{{ include \"watershed.service\" (dict \"root\" . \"name\" \"%[1]s\") }}\n", name)
	return os.WriteFile(filepath.Join(helmServices, name+".yaml"), []byte(tmpl), 0o644)
}

// addToHelmSchema adds "name": {"$ref": "#/definitions/service"} as the
// last property of the schema's services object.
func addToHelmSchema(path, name string) error {
	lines, err := readLines(path)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(lines, func(l string) bool { return strings.TrimSpace(l) == fmt.Sprintf("%q: {", name) }) {
		return nil
	}
	svc := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == `"services": {` })
	if svc < 0 {
		return fmt.Errorf(`no "services" object`)
	}
	props := svc + slices.IndexFunc(lines[svc:], func(l string) bool { return strings.TrimSpace(l) == `"properties": {` })
	if props < svc {
		return fmt.Errorf(`"services" has no "properties"`)
	}
	indent := lines[props][:len(lines[props])-len(strings.TrimLeft(lines[props], " "))]
	end := props + 1
	for end < len(lines) && lines[end] != indent+"}" && lines[end] != indent+"}," {
		end++
	}
	if end == len(lines) || end == props+1 {
		return fmt.Errorf(`"services" "properties" do not end, or are empty`)
	}
	in := indent + "  "
	lines[end-1] += ","
	entry := []string{in + fmt.Sprintf("%q: {", name), in + `  "$ref": "#/definitions/service"`, in + "}"}
	return writeKeepingMode(path, strings.Join(slices.Concat(lines[:end], entry, lines[end:]), "\n"))
}

// addToDeployCheck adds the service to the list deploy/check's tests hold
// the compose file and the chart to.
func addToDeployCheck(path, name string) error {
	lines, err := readLines(path)
	if err != nil {
		return err
	}
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "var services = []string{") })
	if start < 0 {
		return fmt.Errorf("no var services = []string{ ... }")
	}
	end := start + slices.Index(lines[start:], "}")
	if end < start {
		return fmt.Errorf("var services does not end")
	}
	if slices.ContainsFunc(lines[start:end], func(l string) bool { return strings.Contains(l, fmt.Sprintf("%q", name)) }) {
		return nil
	}
	return writeKeepingMode(path, strings.Join(slices.Insert(lines, end, fmt.Sprintf("\t%q,", name)), "\n"))
}

// addToBuildImages adds the service to the images scripts/build-images.sh
// builds by default.
func addToBuildImages(path, name string) error { return addToBashList(path, "all=(", name) }

// addToBashList appends name to the bash array that starts a line with
// open ("all=(", "kafka_services=(") and may span lines; a name already
// there is left alone. init-secrets.sh's list gives the service its own
// Kafka principal (the env file compose reads).
func addToBashList(path, open, name string) error {
	lines, err := readLines(path)
	if err != nil {
		return err
	}
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, open) })
	if start < 0 {
		return fmt.Errorf("no %s ... ) list", open)
	}
	end := start + slices.IndexFunc(lines[start:], func(l string) bool { return strings.HasSuffix(l, ")") })
	if end < start {
		return fmt.Errorf("the %s list does not end", open)
	}
	for _, l := range lines[start : end+1] {
		if slices.Contains(strings.Fields(strings.Trim(strings.TrimPrefix(l, open), ")")), name) {
			return nil
		}
	}
	lines[end] = strings.TrimSuffix(lines[end], ")") + " " + name + ")"
	return writeKeepingMode(path, strings.Join(lines, "\n"))
}
