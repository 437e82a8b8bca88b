package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	serjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

const releaseName, releaseNamespace = "watershed", "watershed"

// kubeVersion is the cluster version the chart is rendered for (the
// library's own default is far older than the chart's kubeVersion floor).
var kubeVersion = &chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}

func chartDir(t *testing.T) string { return filepath.Join(repoRoot(t), "helm", "watershed") }

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// valuesSets are the value files the chart is tested with: its defaults
// and ci-values.yaml (everything on, Strimzi resources, TLS, secrets).
func valuesSets(t *testing.T) map[string]map[string]any {
	t.Helper()
	ci, err := chartutil.ReadValuesFile(filepath.Join(chartDir(t), "ci-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]map[string]any{"default": {}, "ci": ci.AsMap()}
}

// render is `helm template`: a client-only dry-run install, which also
// validates the values against values.schema.json.
func render(t *testing.T, vals map[string]any) (string, error) {
	t.Helper()
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = releaseName
	install.Namespace = releaseNamespace
	install.DisableHooks = true
	install.KubeVersion = kubeVersion
	rel, err := install.Run(loadChart(t), vals)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

func TestHelmLintStrict(t *testing.T) {
	for name, vals := range valuesSets(t) {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = releaseNamespace
			lint.KubeVersion = kubeVersion
			res := lint.Run([]string{chartDir(t)}, vals)
			if res.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
			}
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			for _, err := range res.Errors {
				t.Errorf("helm lint --strict: %v", err)
			}
		})
	}
}

// manifest is one rendered object, decoded strictly.
type manifest struct {
	source string
	kind   string
	name   string
	obj    any
}

// strictDecoder decodes YAML into the Kubernetes API types, failing on
// unknown and duplicate fields.
var strictDecoder = serjson.NewSerializerWithOptions(serjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	serjson.SerializerOptions{Yaml: true, Strict: true})

// kinds the chart may render; anything else is a failure.
var kinds = map[string]bool{
	"ServiceAccount": true, "Service": true, "Deployment": true,
	"NetworkPolicy": true, "PodDisruptionBudget": true,
	"KafkaTopic": true, "KafkaUser": true,
}

func decodeAll(t *testing.T, rendered string) []manifest {
	t.Helper()
	var out []manifest
	for src, doc := range releaseutil.SplitManifests(rendered) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Errorf("%s: not YAML: %v", src, err)
			continue
		}
		if !kinds[head.Kind] {
			t.Errorf("%s: unexpected kind %q", src, head.Kind)
			continue
		}
		m := manifest{source: src, kind: head.Kind, name: head.Metadata.Name}
		var err error
		switch head.Kind {
		case "KafkaTopic", "KafkaUser":
			m.obj, err = decodeStrimzi(head.APIVersion, head.Kind, []byte(doc))
		default:
			var obj runtime.Object
			obj, _, err = strictDecoder.Decode([]byte(doc), nil, nil)
			m.obj = obj
		}
		if err != nil {
			t.Errorf("%s (%s %s): strict decode: %v", src, head.Kind, head.Metadata.Name, err)
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b manifest) int { return strings.Compare(a.kind+"/"+a.name, b.kind+"/"+b.name) })
	return out
}

// The Strimzi custom resources, as far as the chart uses them (Strimzi's
// kafka.strimzi.io/v1beta2 CRDs); decoded with unknown fields refused.
type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels"`
}

type kafkaTopic struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		TopicName  string            `json:"topicName"`
		Partitions int32             `json:"partitions"`
		Replicas   int32             `json:"replicas"`
		Config     map[string]string `json:"config"`
	} `json:"spec"`
}

type kafkaUser struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Authentication struct {
			Type string `json:"type"`
		} `json:"authentication"`
		Authorization struct {
			Type string `json:"type"`
			ACLs []struct {
				Resource struct {
					Type        string `json:"type"`
					Name        string `json:"name"`
					PatternType string `json:"patternType"`
				} `json:"resource"`
				Operations []string `json:"operations"`
			} `json:"acls"`
		} `json:"authorization"`
	} `json:"spec"`
}

func decodeStrimzi(apiVersion, kind string, doc []byte) (any, error) {
	if apiVersion != "kafka.strimzi.io/v1beta2" {
		return nil, fmt.Errorf("apiVersion %q, want kafka.strimzi.io/v1beta2", apiVersion)
	}
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if kind == "KafkaTopic" {
		var kt kafkaTopic
		if err := dec.Decode(&kt); err != nil {
			return nil, err
		}
		if kt.Metadata.Labels["strimzi.io/cluster"] == "" || kt.Spec.TopicName == "" || kt.Spec.Partitions < 1 || kt.Spec.Replicas < 1 {
			return nil, fmt.Errorf("KafkaTopic %s: want a strimzi.io/cluster label, topicName, partitions and replicas", kt.Metadata.Name)
		}
		return &kt, nil
	}
	var ku kafkaUser
	if err := dec.Decode(&ku); err != nil {
		return nil, err
	}
	if ku.Metadata.Labels["strimzi.io/cluster"] == "" {
		return nil, fmt.Errorf("KafkaUser %s: no strimzi.io/cluster label", ku.Metadata.Name)
	}
	if a := ku.Spec.Authentication.Type; a != "scram-sha-512" && a != "tls" {
		return nil, fmt.Errorf("KafkaUser %s: authentication %q", ku.Metadata.Name, a)
	}
	valid := []string{"Read", "Write", "Create", "Delete", "Alter", "Describe", "DescribeConfigs", "AlterConfigs", "All"}
	for _, acl := range ku.Spec.Authorization.ACLs {
		if !slices.Contains([]string{"topic", "group", "cluster", "transactionalId"}, acl.Resource.Type) ||
			!slices.Contains([]string{"literal", "prefix"}, acl.Resource.PatternType) || len(acl.Operations) == 0 {
			return nil, fmt.Errorf("KafkaUser %s: invalid ACL %+v", ku.Metadata.Name, acl)
		}
		for _, op := range acl.Operations {
			if !slices.Contains(valid, op) {
				return nil, fmt.Errorf("KafkaUser %s: ACL operation %q", ku.Metadata.Name, op)
			}
		}
	}
	return &ku, nil
}

func renderAll(t *testing.T) map[string][]manifest {
	t.Helper()
	out := map[string][]manifest{}
	for name, vals := range valuesSets(t) {
		rendered, err := render(t, vals)
		if err != nil {
			t.Fatalf("helm template (%s values): %v", name, err)
		}
		out[name] = decodeAll(t, rendered)
		if len(out[name]) == 0 {
			t.Fatalf("%s values rendered nothing", name)
		}
	}
	return out
}

func TestHelmDeploymentsRestricted(t *testing.T) {
	for set, ms := range renderAll(t) {
		var deployments int
		for _, m := range ms {
			d, ok := m.obj.(*appsv1.Deployment)
			if !ok {
				continue
			}
			deployments++
			t.Run(set+"/"+d.Name, func(t *testing.T) { checkDeployment(t, d) })
		}
		want := len(services) + len(variants) - 2 // meter-simulator and console are off by default
		if set == "ci" {
			want = len(services) + len(variants)
		}
		if deployments != want {
			t.Errorf("%s values: %d Deployments, want %d", set, deployments, want)
		}
	}
}

func checkDeployment(t *testing.T, d *appsv1.Deployment) {
	pod := d.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("pod automountServiceAccountToken is not false")
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, runAsUser 65532, seccomp RuntimeDefault", psc)
	}
	if a := d.Spec.Template.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v: want Prometheus scrape annotations for :8080/metrics", a)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v: want httpGet %s on port http", what, p, path)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v: want http 8080", c.Ports)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
		if req.IsZero() || lim.IsZero() {
			t.Errorf("resources %s: request %s limit %s: want both", r, req.String(), lim.String())
		} else if req.Cmp(lim) > 0 {
			t.Errorf("resources %s: request %s above limit %s", r, req.String(), lim.String())
		}
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no container securityContext")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("runAsNonRoot is not true")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("privileged")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v: want drop [ALL], add none", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("container seccompProfile is not RuntimeDefault")
	}
	var tmp bool
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != "/tmp" {
			continue
		}
		for _, v := range pod.Volumes {
			tmp = tmp || (v.Name == vm.Name && v.EmptyDir != nil)
		}
	}
	if !tmp {
		t.Error("no emptyDir mounted at /tmp")
	}
	env := map[string]int{}
	for _, e := range c.Env {
		env[e.Name]++
		if env[e.Name] == 2 {
			t.Errorf("env %s set twice", e.Name)
		}
		if strings.Contains(e.Name, "PASSWORD") || strings.HasSuffix(e.Name, "SECRET_ACCESS_KEY") || strings.HasSuffix(e.Name, "_TOKEN") {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				t.Errorf("env %s is not from a Secret", e.Name)
			}
		}
	}
	for _, k := range commonRequired {
		if env[k] == 0 {
			t.Errorf("env %s not set", k)
		}
	}
	name := d.Labels["app.kubernetes.io/name"]
	for _, k := range requiredEnv[name] {
		if env[k] == 0 && !strings.HasPrefix(k, "REDIS_U") && !strings.HasPrefix(k, "MQTT_U") && !strings.Contains(k, "PASSWORD") && !strings.HasPrefix(k, "AWS_") && !strings.HasSuffix(k, "_TOKEN") {
			t.Errorf("env %s (required by %s) not set", k, name)
		}
	}
}

func TestHelmNetworkPolicies(t *testing.T) {
	for set, ms := range renderAll(t) {
		t.Run(set, func(t *testing.T) {
			var deny bool
			selected := map[string]*networkingv1.NetworkPolicy{}
			for _, m := range ms {
				np, ok := m.obj.(*networkingv1.NetworkPolicy)
				if !ok {
					continue
				}
				types := np.Spec.PolicyTypes
				both := slices.Contains(types, networkingv1.PolicyTypeIngress) && slices.Contains(types, networkingv1.PolicyTypeEgress)
				if len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 && both {
					deny = true
					continue
				}
				if !both {
					t.Errorf("NetworkPolicy %s: policyTypes %v, want Ingress and Egress", np.Name, types)
				}
				selected[np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"]] = np
			}
			if !deny {
				t.Fatal("no default-deny NetworkPolicy (no rules, policyTypes Ingress and Egress)")
			}
			for _, m := range ms {
				d, ok := m.obj.(*appsv1.Deployment)
				if !ok {
					continue
				}
				name := d.Labels["app.kubernetes.io/name"]
				np := selected[name]
				if np == nil {
					t.Errorf("Deployment %s: no NetworkPolicy selects it", d.Name)
					continue
				}
				checkPolicy(t, name, np)
			}
		})
	}
}

func checkPolicy(t *testing.T, name string, np *networkingv1.NetworkPolicy) {
	egressPorts := map[int32]bool{}
	for _, r := range np.Spec.Egress {
		if len(r.To) == 0 {
			t.Errorf("%s: egress rule %+v allows every destination", name, r)
		}
		for _, p := range r.Ports {
			egressPorts[p.Port.IntVal] = true
		}
	}
	if !egressPorts[53] {
		t.Errorf("%s: no DNS egress", name)
	}
	if !egressPorts[9092] && !egressPorts[9093] {
		t.Errorf("%s: no Kafka egress", name)
	}
	for _, k := range requiredEnv[name] {
		switch {
		case k == "REDIS_URL" && !egressPorts[6379]:
			t.Errorf("%s uses Redis but has no egress to 6379", name)
		case k == "MQTT_URL" && !egressPorts[1883]:
			t.Errorf("%s uses MQTT but has no egress to 1883", name)
		case k == "PONDS_URL" && len(np.Spec.Egress) < 3:
			t.Errorf("%s uses the object store but has no egress to it", name)
		}
	}
	for _, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			t.Errorf("%s: ingress rule allows every source", name)
		}
		if len(r.Ports) != 1 || r.Ports[0].Port.IntVal != 8080 {
			t.Errorf("%s: ingress ports %+v, want 8080 only", name, r.Ports)
		}
	}
}

func TestHelmCIValuesRenderEverything(t *testing.T) {
	ms := renderAll(t)["ci"]
	count := map[string]int{}
	users := map[string]bool{}
	var pdbs []string
	for _, m := range ms {
		count[m.kind]++
		switch o := m.obj.(type) {
		case *kafkaUser:
			users[o.Metadata.Name] = true
		case *policyv1.PodDisruptionBudget:
			pdbs = append(pdbs, o.Name)
		case *corev1.ServiceAccount:
			if o.AutomountServiceAccountToken == nil || *o.AutomountServiceAccountToken {
				t.Errorf("ServiceAccount %s: automountServiceAccountToken is not false", o.Name)
			}
		}
	}
	if count["KafkaTopic"] != 4 {
		t.Errorf("%d KafkaTopics, want 4 (rapids, rivers and their .dlq)", count["KafkaTopic"])
	}
	for _, s := range services {
		if !users[releaseName+"-"+s] {
			t.Errorf("no KafkaUser %s-%s", releaseName, s)
		}
	}
	for _, k := range []string{"Deployment", "Service", "ServiceAccount"} {
		if count[k] != len(services)+len(variants) {
			t.Errorf("%d %ss, want %d", count[k], k, len(services)+len(variants))
		}
	}
	slices.Sort(pdbs)
	want := []string{releaseName + "-gap-detector", releaseName + "-hot-pond", releaseName + "-reading-validator", releaseName + "-usage-aggregator"}
	if !slices.Equal(pdbs, want) {
		t.Errorf("PodDisruptionBudgets %v, want %v (the services with replicas > 1)", pdbs, want)
	}
}

func TestHelmSchemaIsStrict(t *testing.T) {
	bad := map[string]map[string]any{
		"misspelt service key": {"services": map[string]any{"gap-detector": map[string]any{"enabled": true, "replica": 2}}},
		"unknown service":      {"services": map[string]any{"gap-detectr": map[string]any{"enabled": true}}},
		"unknown top-level":    {"kafak": map[string]any{}},
		"zero replicas":        {"services": map[string]any{"hot-pond": map[string]any{"enabled": true, "replicas": 0}}},
		"bad brokers":          {"kafka": map[string]any{"bootstrapServers": "kafka"}},
		"empty egress":         {"redis": map[string]any{"egress": map[string]any{"to": []any{}, "ports": []any{6379}}}},
	}
	for name, vals := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, vals)
			if err == nil {
				t.Fatalf("values %v rendered: the schema must refuse them", vals)
			}
			if !strings.Contains(err.Error(), "schema") {
				t.Fatalf("values %v: refused, but not by values.schema.json: %v", vals, err)
			}
		})
	}
	// (strimzi.users is the default: kafka.sasl is used without it)
	if _, err := render(t, map[string]any{"kafka": map[string]any{"strimzi": map[string]any{"users": false}, "sasl": map[string]any{"mechanism": "SCRAM-SHA-512"}}}); err == nil ||
		!strings.Contains(err.Error(), "kafka.sasl.existingSecret") {
		t.Fatalf("SASL without a Secret: err %v, want one naming kafka.sasl.existingSecret", err)
	}
}

// The stateful services scale up to the rapids' partition count; the two
// that correlate meters across partitions run one replica.
func TestHelmReplicaCeilings(t *testing.T) {
	svc := func(name string, replicas int) map[string]any {
		return map[string]any{"kafka": map[string]any{"allowUnauthenticated": true, "strimzi": map[string]any{"users": false}},
			"services": map[string]any{name: map[string]any{"enabled": true, "replicas": replicas}}}
	}
	for _, c := range []struct {
		name     string
		replicas int
		refused  string // "" when it renders
	}{
		{"gap-detector", 6, ""},
		{"usage-aggregator", 3, ""},
		{"reading-validator", 6, ""},
		{"gap-detector", 7, "more than the rapids' 6 partitions"},
		{"usage-aggregator", 7, "more than the rapids' 6 partitions"},
		{"feeder-aggregator", 6, ""},
		{"feeder-aggregator", 7, "more than the rapids' 6 partitions"},
		{"outage-detector", 2, "run one replica"},
	} {
		t.Run(fmt.Sprintf("%s=%d", c.name, c.replicas), func(t *testing.T) {
			_, err := render(t, svc(c.name, c.replicas))
			switch {
			case c.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
				t.Fatalf("err %v, want it refused: %q", err, c.refused)
			}
		})
	}
}

func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: 1
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: x
          image: x
          securityContext: {readOnlyRootFileSystem: true}
`
	if _, _, err := strictDecoder.Decode([]byte(deployment), nil, nil); err == nil || !strings.Contains(err.Error(), "readOnlyRootFileSystem") {
		t.Errorf("a misspelt Deployment field decoded: err %v", err)
	}
	good := strings.Replace(deployment, "readOnlyRootFileSystem", "readOnlyRootFilesystem", 1)
	if _, _, err := strictDecoder.Decode([]byte(good), nil, nil); err != nil {
		t.Errorf("a valid Deployment does not decode: %v", err)
	}
	topic := `apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaTopic
metadata: {name: t, labels: {strimzi.io/cluster: c}}
spec: {topicName: rapids, partitions: 6, replicas: 3, retention: 1}
`
	if _, err := decodeStrimzi("kafka.strimzi.io/v1beta2", "KafkaTopic", []byte(topic)); err == nil {
		t.Error("a KafkaTopic with an unknown spec field decoded")
	}
	if _, err := decodeStrimzi("kafka.strimzi.io/v1beta2", "KafkaTopic", []byte(strings.Replace(topic, ", retention: 1", "", 1))); err != nil {
		t.Errorf("a valid KafkaTopic does not decode: %v", err)
	}
}

// A service's extraVolumes and extraVolumeMounts reach its pod: how the
// alert-router gets its rules file from a ConfigMap (values.yaml shows it).
func TestHelmExtraVolumes(t *testing.T) {
	vals := map[string]any{"services": map[string]any{"alert-router": map[string]any{
		"env":               map[string]any{"ALERT_RULES_FILE": "/etc/watershed/alerts/rules.yaml"},
		"extraVolumes":      []any{map[string]any{"name": "rules", "configMap": map[string]any{"name": "alert-rules"}}},
		"extraVolumeMounts": []any{map[string]any{"name": "rules", "mountPath": "/etc/watershed/alerts", "readOnly": true}},
	}}}
	rendered, err := render(t, vals)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, m := range decodeAll(t, rendered) {
		d, ok := m.obj.(*appsv1.Deployment)
		if !ok || !strings.HasSuffix(d.Name, "alert-router") {
			continue
		}
		found = true
		var vol, mount bool
		for _, v := range d.Spec.Template.Spec.Volumes {
			vol = vol || (v.Name == "rules" && v.ConfigMap != nil && v.ConfigMap.Name == "alert-rules")
		}
		for _, vm := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
			mount = mount || (vm.Name == "rules" && vm.MountPath == "/etc/watershed/alerts" && vm.ReadOnly)
		}
		if !vol || !mount {
			t.Errorf("alert-router deployment: rules volume %v, mount %v; want both", vol, mount)
		}
		checkDeployment(t, d)
	}
	if !found {
		t.Fatal("no alert-router deployment rendered")
	}
}
