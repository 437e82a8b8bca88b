package check

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// renderNotes is render that also returns the install notes.
func renderNotes(t *testing.T, vals map[string]any) (manifest, notes string, err error) {
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
		return "", "", err
	}
	return rel.Manifest, rel.Info.Notes, nil
}

func deployments(t *testing.T, rendered string) map[string]*appsv1.Deployment {
	t.Helper()
	out := map[string]*appsv1.Deployment{}
	for _, m := range decodeAll(t, rendered) {
		if d, ok := m.obj.(*appsv1.Deployment); ok {
			out[strings.TrimPrefix(d.Name, releaseName+"-")] = d
		}
	}
	if len(out) == 0 {
		t.Fatal("no Deployment rendered")
	}
	return out
}

func containerEnv(d *appsv1.Deployment) map[string]corev1.EnvVar {
	env := map[string]corev1.EnvVar{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e
	}
	return env
}

// With the defaults every service authenticates to Kafka as its own
// KafkaUser (SCRAM-SHA-512), and the notes warn that control events are
// not authenticated until controlAuth is given.
func TestHelmAuthenticationByDefault(t *testing.T) {
	rendered, notes, err := renderNotes(t, map[string]any{})
	if err != nil {
		t.Fatalf("helm template with the defaults: %v", err)
	}
	users := map[string]bool{}
	for _, m := range decodeAll(t, rendered) {
		if m.kind == "KafkaUser" {
			users[m.name] = true
		}
	}
	for name, d := range deployments(t, rendered) {
		env := containerEnv(d)
		if env["KAFKA_SASL_MECHANISM"].Value != "SCRAM-SHA-512" || env["KAFKA_SASL_USERNAME"].Value != d.Name {
			t.Errorf("%s: KAFKA_SASL_MECHANISM %q, KAFKA_SASL_USERNAME %q: want SCRAM-SHA-512 as its own user", name, env["KAFKA_SASL_MECHANISM"].Value, env["KAFKA_SASL_USERNAME"].Value)
		}
		if ref := env["KAFKA_SASL_PASSWORD"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != d.Name {
			t.Errorf("%s: KAFKA_SASL_PASSWORD not from its KafkaUser's Secret", name)
		}
		if !users[d.Name] {
			t.Errorf("%s: no KafkaUser %s", name, d.Name)
		}
		if _, has := env["CONTROL_TRUST_FILE"]; has {
			t.Errorf("%s: CONTROL_TRUST_FILE without controlAuth", name)
		}
	}
	if !strings.Contains(notes, "control events are NOT authenticated") {
		t.Errorf("notes do not warn that control events are not authenticated:\n%s", notes)
	}

	// Without Strimzi users or SASL the chart refuses, unless told.
	off := map[string]any{"kafka": map[string]any{"strimzi": map[string]any{"users": false}}}
	if _, _, err := renderNotes(t, off); err == nil || !strings.Contains(err.Error(), "kafka.allowUnauthenticated") {
		t.Errorf("no Kafka authentication: err %v, want a refusal naming kafka.allowUnauthenticated", err)
	}
	off["kafka"].(map[string]any)["allowUnauthenticated"] = true
	rendered, notes, err = renderNotes(t, off)
	if err != nil {
		t.Fatalf("kafka.allowUnauthenticated=true: %v", err)
	}
	if !strings.Contains(notes, "Kafka authentication is off") {
		t.Errorf("notes do not warn that Kafka authentication is off:\n%s", notes)
	}
	for name, d := range deployments(t, rendered) {
		if _, has := containerEnv(d)["KAFKA_SASL_MECHANISM"]; has {
			t.Errorf("%s: SASL with authentication off", name)
		}
	}
}

// controlAuth: every service mounts the trust list, each signer its own
// key only, read-only; half a configuration is refused.
func TestHelmControlAuth(t *testing.T) {
	for _, from := range []string{"existingSecret", "existingConfigMap"} {
		vals := map[string]any{"controlAuth": map[string]any{
			"trust": map[string]any{from: "watershed-control-trust"},
			"keys":  map[string]any{"existingSecret": "watershed-control-keys"},
		}}
		rendered, notes, err := renderNotes(t, vals)
		if err != nil {
			t.Fatalf("trust from %s: %v", from, err)
		}
		if strings.Contains(notes, "NOT authenticated") {
			t.Errorf("trust from %s: notes still warn:\n%s", from, notes)
		}
		for name, d := range deployments(t, rendered) {
			env := containerEnv(d)
			if env["CONTROL_TRUST_FILE"].Value != "/etc/watershed/control-trust/trust" {
				t.Errorf("%s: CONTROL_TRUST_FILE %q", name, env["CONTROL_TRUST_FILE"].Value)
			}
			mounts := map[string]corev1.VolumeMount{}
			for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
				mounts[m.Name] = m
			}
			vols := map[string]corev1.Volume{}
			for _, v := range d.Spec.Template.Spec.Volumes {
				vols[v.Name] = v
			}
			if m, ok := mounts["control-trust"]; !ok || !m.ReadOnly || m.MountPath != "/etc/watershed/control-trust" {
				t.Errorf("%s: control-trust mount %+v", name, m)
			}
			tv := vols["control-trust"]
			switch {
			case from == "existingSecret" && (tv.Secret == nil || tv.Secret.SecretName != "watershed-control-trust"),
				from == "existingConfigMap" && (tv.ConfigMap == nil || tv.ConfigMap.Name != "watershed-control-trust"):
				t.Errorf("%s: control-trust volume %+v, want the %s", name, tv.VolumeSource, from)
			}
			want := map[string]string{"demand-tracker": "demand-tracker.pem", "command-dispatcher": "command-dispatcher.pem", "usage-insights": "usage-insights.pem"}[name]
			kv, hasKey := vols["control-key"]
			switch {
			case want == "" && (hasKey || env["CONTROL_KEY_FILE"].Value != ""):
				t.Errorf("%s: not a signer, but mounts a control key", name)
			case want != "" && (!hasKey || kv.Secret == nil || kv.Secret.SecretName != "watershed-control-keys" ||
				len(kv.Secret.Items) != 1 || kv.Secret.Items[0].Key != want || kv.Secret.Items[0].Path != "key.pem"):
				t.Errorf("%s: control-key volume %+v: want only %s of watershed-control-keys as key.pem", name, kv.VolumeSource, want)
			case want != "" && (env["CONTROL_KEY_FILE"].Value != "/etc/watershed/control-key/key.pem" || !mounts["control-key"].ReadOnly):
				t.Errorf("%s: CONTROL_KEY_FILE %q, mount %+v", name, env["CONTROL_KEY_FILE"].Value, mounts["control-key"])
			case want != "" && (kv.Secret.DefaultMode == nil || *kv.Secret.DefaultMode != 0o440):
				t.Errorf("%s: control key mode %v, want 0440 (readable by fsGroup 65532 only)", name, kv.Secret.DefaultMode)
			}
		}
	}
	for name, vals := range map[string]map[string]any{
		"trust without keys": {"controlAuth": map[string]any{"trust": map[string]any{"existingConfigMap": "t"}}},
		"keys without trust": {"controlAuth": map[string]any{"keys": map[string]any{"existingSecret": "k"}}},
		"trust twice":        {"controlAuth": map[string]any{"trust": map[string]any{"existingConfigMap": "t", "existingSecret": "t"}, "keys": map[string]any{"existingSecret": "k"}}},
	} {
		if _, _, err := renderNotes(t, vals); err == nil || !strings.Contains(err.Error(), "controlAuth") {
			t.Errorf("%s: err %v, want a refusal naming controlAuth", name, err)
		}
	}
}
