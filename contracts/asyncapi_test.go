package contracts_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

// TestAsyncAPIDocument parses asyncapi.yaml and checks it against the
// catalog: AsyncAPI 3, the four channels, a message per catalog type whose
// payload is that type's schema file, on the channel the schema names, and
// every reference resolving. The document is generated from the schemas
// (internal/catalogdoc); this test checks what it says, not how.
func TestAsyncAPIDocument(t *testing.T) {
	raw, err := os.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("asyncapi.yaml does not parse: %v", err)
	}
	if v, _ := doc["asyncapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("asyncapi: %v, want 3.x", doc["asyncapi"])
	}
	cat := catalog.Default()

	channels := get[map[string]any](t, doc, "channels")
	var addresses []string
	for _, ch := range channels {
		addresses = append(addresses, get[string](t, ch, "address"))
	}
	slices.Sort(addresses)
	if want := []string{"rapids", "rapids.dlq", "rivers", "rivers.dlq"}; !slices.Equal(addresses, want) {
		t.Fatalf("channel addresses %v, want %v", addresses, want)
	}

	messages := get[map[string]any](t, doc, "components", "messages")
	var named []string
	for key, m := range messages {
		name := get[string](t, m, "name")
		named = append(named, name)
		if name != key {
			t.Errorf("message %s: name %q", key, name)
		}
		ref := get[string](t, m, "payload", "$ref")
		if ref != "./schemas/"+name+".json" {
			t.Errorf("message %s: payload $ref %q, want ./schemas/%s.json", name, ref, name)
		}
		if _, err := os.Stat(filepath.FromSlash(ref)); err != nil {
			t.Errorf("message %s: payload file: %v", name, err)
		}
		if !cat.Has(name) {
			t.Errorf("message %s: no schema in the catalog", name)
			continue
		}
		info, _ := cat.Info(name)
		if got := get[string](t, m, "x-watershed-key"); got != info.Key {
			t.Errorf("message %s: key %q, the schema says %q", name, got, info.Key)
		}
		if !strings.Contains(get[string](t, m, "bindings", "kafka", "key", "description"), info.Key) {
			t.Errorf("message %s: the kafka key binding does not name %s", name, info.Key)
		}
		allOf := get[[]any](t, m, "headers", "allOf")
		if got := get[string](t, allOf[1], "properties", "ce_type", "const"); got != name {
			t.Errorf("message %s: headers pin ce_type to %q", name, got)
		}
		// The message is on its schema's channel and that channel's DLQ, and nowhere else.
		for chName, ch := range channels {
			_, listed := get[map[string]any](t, ch, "messages")[name]
			want := chName == info.Channel || chName == info.Channel+".dlq"
			if listed != want {
				t.Errorf("message %s: listed on %s = %v, want %v (schema channel %s)", name, chName, listed, want, info.Channel)
			}
		}
	}
	slices.Sort(named)
	if types := cat.Types(); !slices.Equal(named, types) {
		t.Errorf("messages %v\ncatalog  %v", named, types)
	}

	headers := get[map[string]any](t, doc, "components", "schemas", "CloudEventHeaders", "properties")
	for _, h := range []string{"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_dataschema", "ce_subject",
		"ce_expirytime", "ce_causationid", "ce_correlationid", "ce_hops", "ce_participants", "content-type"} {
		if _, ok := headers[h]; !ok {
			t.Errorf("CloudEventHeaders does not document %s", h)
		}
	}

	// Every internal reference resolves.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && strings.HasPrefix(ref, "#/") {
				if resolveYAML(doc, ref) == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	for name, op := range get[map[string]any](t, doc, "operations") {
		if a := get[string](t, op, "action"); a != "send" && a != "receive" {
			t.Errorf("operation %s: action %q", name, a)
		}
	}
}

func resolveYAML(doc any, ref string) any {
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)]
	}
	return cur
}

// get walks nested maps by key and returns the value as a T.
func get[T any](t *testing.T, v any, keys ...string) T {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: not a mapping: %v", k, v)
		}
		v = m[k]
	}
	out, ok := v.(T)
	if !ok {
		var zero T
		t.Fatalf("at %v: got %T, want %T", keys, v, zero)
	}
	return out
}
