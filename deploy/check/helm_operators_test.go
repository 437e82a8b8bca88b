package check

import (
	"maps"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// moduleVersions maps each service to its version in modules.txt.
func moduleVersions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(readFile(t, "modules.txt"), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.HasPrefix(f[0], "services/") {
			out[strings.TrimPrefix(f[0], "services/")] = f[1]
		}
	}
	return out
}

// With the chart's defaults every pod pulls the tag scripts/build-images.sh
// gives its image: the service's version in modules.txt.
func TestHelmDefaultImageTagIsWhatTheBuildTags(t *testing.T) {
	script := readFile(t, "scripts/build-images.sh")
	if !regexp.MustCompile(`(?m)^\s*tag=\$\{IMAGE_TAG:-\$version\}`).MatchString(script) ||
		!strings.Contains(script, `-t "$prefix/$s:$tag"`) {
		t.Fatal("scripts/build-images.sh no longer tags $prefix/<service>:${IMAGE_TAG:-<modules.txt version>}: update this test with it")
	}
	versions := moduleVersions(t)
	rendered, err := render(t, map[string]any{"services": map[string]any{
		"meter-simulator": map[string]any{"enabled": true}, "console": map[string]any{"enabled": true,
			"env": map[string]any{"CONSOLE_TOKENS": "x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, m := range decodeAll(t, rendered) {
		d, ok := m.obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		seen++
		svc := strings.TrimPrefix(d.Name, releaseName+"-")
		if base, ok := variants[svc]; ok {
			svc = base // runs its image
		}
		image := d.Spec.Template.Spec.Containers[0].Image
		_, tag, _ := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
		if want := versions[svc]; want == "" || tag != want {
			t.Errorf("%s: image %s: tag %q, but scripts/build-images.sh tags %q (modules.txt): set the chart's appVersion to it", svc, image, tag, want)
		}
	}
	if seen != len(services)+len(variants) {
		t.Errorf("%d Deployments, want %d", seen, len(services)+len(variants))
	}
}

// kafka.strimzi.namespace moves the KafkaUsers with the KafkaTopics; by
// default both are in the release namespace.
func TestHelmStrimziResourcesShareANamespace(t *testing.T) {
	ci := valuesSets(t)["ci"]
	moved := maps.Clone(ci)
	kafka := maps.Clone(ci["kafka"].(map[string]any))
	strimzi := maps.Clone(kafka["strimzi"].(map[string]any))
	strimzi["namespace"] = "kafka"
	kafka["strimzi"], moved["kafka"] = strimzi, kafka
	for want, vals := range map[string]map[string]any{releaseNamespace: ci, "kafka": moved} {
		rendered, err := render(t, vals)
		if err != nil {
			t.Fatal(err)
		}
		var topics, users int
		for _, m := range decodeAll(t, rendered) {
			var ns string
			switch o := m.obj.(type) {
			case *kafkaTopic:
				topics++
				ns = o.Metadata.Namespace
			case *kafkaUser:
				users++
				ns = o.Metadata.Namespace
			default:
				continue
			}
			if ns != want {
				t.Errorf("%s %s in namespace %q, want %q", m.kind, m.name, ns, want)
			}
		}
		if topics != 4 || users != len(services)+len(variants) {
			t.Errorf("namespace %s: %d KafkaTopics and %d KafkaUsers, want 4 and %d", want, topics, users, len(services)+len(variants))
		}
	}
}

// hotPond.apiToken.existingSecret gives hot-pond its API token and the
// console the same, from the Secret; without it neither gets one.
func TestHelmHotPondAPIToken(t *testing.T) {
	for set, ms := range renderAll(t) {
		for _, m := range ms {
			d, ok := m.obj.(*appsv1.Deployment)
			if !ok {
				continue
			}
			var want string
			switch d.Name {
			case releaseName + "-hot-pond":
				want = "HOTPOND_API_TOKEN"
			case releaseName + "-console":
				want = "CONSOLE_HOTPOND_TOKEN"
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e
			}
			for _, name := range []string{"HOTPOND_API_TOKEN", "CONSOLE_HOTPOND_TOKEN"} {
				e, has := env[name]
				switch {
				case name != want || set == "default":
					if has {
						t.Errorf("%s values: %s has %s", set, d.Name, name)
					}
				case !has || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil:
					t.Errorf("%s values: %s: %s %+v: want it from a secretKeyRef", set, d.Name, name, e)
				case e.ValueFrom.SecretKeyRef.Name != "watershed-hotpond-api" || e.ValueFrom.SecretKeyRef.Key != "token":
					t.Errorf("%s values: %s: %s from %+v, want Secret watershed-hotpond-api, key token", set, d.Name, name, e.ValueFrom.SecretKeyRef)
				}
			}
		}
	}
}
