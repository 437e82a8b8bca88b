// Package finalstate keeps a service's state across a clean restart: the
// state saved in a file when the service stops cleanly, taken (read and
// removed) once when it starts again. Removing it on start means a crash
// later never restores a state older than what the service has read since:
// after a crash the service starts from its periodic checkpoints or its
// warm-up instead.
package finalstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Save writes data to dir/name atomically (a temporary file renamed into
// place), so a stop cut short leaves the previous file or none, never half
// of one.
func Save(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return fmt.Errorf("finalstate: save %s: %w", path, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("finalstate: save %s: %w", path, err)
	}
	return nil
}

// Take reads dir/name and removes it, so it is restored once. It returns
// nil data and no error when there is none.
func Take(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finalstate: load %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("finalstate: consume %s: %w", path, err)
	}
	return data, nil
}
