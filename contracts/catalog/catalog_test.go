package catalog_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

// exampleName splits an example file name "<type>[.<variant>].json".
var exampleName = regexp.MustCompile(`^([a-z][a-z0-9.]*\.v[1-9][0-9]*)(?:\.([a-z0-9-]+))?\.json$`)

type example struct {
	file, typ string
	data      []byte
}

func examples(t testing.TB) []example {
	t.Helper()
	files, err := filepath.Glob("../examples/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in ../examples: %v", err)
	}
	var out []example
	for _, f := range files {
		m := exampleName.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			t.Fatalf("%s: name is not <type>[.<variant>].json", f)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, example{file: filepath.Base(f), typ: m[1], data: data})
	}
	return out
}

func TestDefaultCatalogMatchesSchemaFiles(t *testing.T) {
	files, err := filepath.Glob("../schemas/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	c := catalog.Default()
	if got := c.Types(); !slices.Equal(got, want) {
		t.Fatalf("Types() = %v\nwant the schema files %v", got, want)
	}
	for _, typ := range want {
		info, err := c.Info(typ)
		if err != nil {
			t.Fatal(err)
		}
		if info.Channel != "rapids" && info.Channel != "rivers" {
			t.Errorf("%s: channel %q, want rapids or rivers", typ, info.Channel)
		}
		if info.SchemaID != catalog.BaseURL+typ+".json" || info.Title == "" || info.Description == "" || info.Key == "" {
			t.Errorf("%s: incomplete info %+v", typ, info)
		}
		onDisk, err := os.ReadFile("../schemas/" + typ + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Schema(typ); string(got) != string(onDisk) {
			t.Errorf("%s: Schema() differs from the file", typ)
		}
	}
}

func TestEveryTypeHasAValidExample(t *testing.T) {
	c := catalog.Default()
	seen := map[string]bool{}
	for _, ex := range examples(t) {
		seen[ex.typ] = true
		if err := c.Validate(ex.typ, ex.data); err != nil {
			t.Errorf("%s: %v", ex.file, err)
		}
	}
	for _, typ := range c.Types() {
		if !seen[typ] {
			t.Errorf("%s: no example in contracts/examples/", typ)
		}
	}
}

type invalidCase struct {
	Name             string          `json:"name"`
	InstanceLocation string          `json:"instance_location"`
	Data             json.RawMessage `json:"data"`
}

func TestInvalidExamplesFailAtTheirLocation(t *testing.T) {
	files, err := filepath.Glob("../examples/invalid/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid examples: %v", err)
	}
	c := catalog.Default()
	for _, f := range files {
		typ := strings.TrimSuffix(filepath.Base(f), ".json")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []invalidCase
		if err := json.Unmarshal(raw, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range cases {
			t.Run(typ+"/"+tc.Name, func(t *testing.T) {
				err := c.Validate(typ, tc.Data)
				var ve *catalog.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Validate = %v, want a *ValidationError", err)
				}
				if !errors.Is(err, catalog.ErrInvalidPayload) || ve.Type != typ {
					t.Fatalf("error %v: type %q, want %q and ErrInvalidPayload", err, ve.Type, typ)
				}
				if len(ve.Violations) != 1 || ve.Path() != tc.InstanceLocation {
					t.Fatalf("violations %+v, want exactly one at %q", ve.Violations, tc.InstanceLocation)
				}
				if ve.Violations[0].Message == "" || !strings.Contains(err.Error(), "'"+tc.InstanceLocation+"'") {
					t.Fatalf("error text %q does not name %q", err, tc.InstanceLocation)
				}
			})
		}
	}
}

// Control types are the ones that change another service's behaviour:
// consumers authenticate them (rivers: control-event authentication).
func TestControlTypes(t *testing.T) {
	c := catalog.Default()
	for _, typ := range c.Types() {
		info, err := c.Info(typ)
		if err != nil {
			t.Fatal(err)
		}
		want := typ == "system.retirement.v1" || typ == "meter.command.v1" || typ == "meter.command.requested.v1"
		if info.Control != want {
			t.Errorf("%s: control %v, want %v", typ, info.Control, want)
		}
	}
}
