package meterreading

import (
	"io/fs"
	"os"
	"testing"
)

// catalogExamples is the contracts module's examples folder, a sibling of
// this module in the repository.
func catalogExamples(t *testing.T) fs.FS {
	t.Helper()
	const dir = "../../../contracts/examples"
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the catalog's examples are not at %s: %v", dir, err)
	}
	return os.DirFS(dir)
}
