package contracts_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts"
)

func TestExampleFSHasAnExampleOfEveryType(t *testing.T) {
	schemas, err := fs.Glob(contracts.SchemaFS(), "*.json")
	if err != nil || len(schemas) == 0 {
		t.Fatalf("no schemas: %v", err)
	}
	for _, s := range schemas {
		if _, err := fs.Stat(contracts.ExampleFS(), s); err != nil {
			t.Errorf("%s: no example %s in ExampleFS: %v", strings.TrimSuffix(s, ".json"), s, err)
		}
	}
	if _, err := fs.Stat(contracts.ExampleFS(), "invalid"); err == nil {
		t.Error("ExampleFS holds examples/invalid: only valid payloads belong in it")
	}
}
