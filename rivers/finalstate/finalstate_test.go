package finalstate_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/watershed-grid/watershed/rivers/finalstate"
)

func TestSaveThenTakeOnce(t *testing.T) {
	dir := t.TempDir()
	if data, err := finalstate.Take(dir, "svc.final"); data != nil || err != nil {
		t.Fatalf("Take with nothing saved = %q, %v; want nil, nil", data, err)
	}
	if err := finalstate.Save(dir, "svc.final", []byte("state")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "svc.final.tmp")); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left: %v", err)
	}
	data, err := finalstate.Take(dir, "svc.final")
	if err != nil || !bytes.Equal(data, []byte("state")) {
		t.Fatalf("Take = %q, %v; want the saved state", data, err)
	}
	if data, err := finalstate.Take(dir, "svc.final"); data != nil || err != nil {
		t.Fatalf("second Take = %q, %v; want nothing: a state is restored once", data, err)
	}
}

func TestSaveIntoAMissingDirectoryFails(t *testing.T) {
	if err := finalstate.Save(filepath.Join(t.TempDir(), "missing"), "svc.final", []byte("x")); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
}
