package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// checkpoint is what the simulator saves so that a restart continues its
// grid clock instead of starting it again: the file at Config.Checkpoint.
type checkpoint struct {
	// Version of the format: 1.
	Version int `json:"version"`
	// Scenario identifies the fleet and scenario the position belongs to
	// (a hash of seed, fleet shape, interval, upload delay, scripted faults
	// and start); a checkpoint of another scenario is ignored.
	Scenario string `json:"scenario"`
	// Start is the grid time of the scenario's start (SIM_START, or the
	// wall clock when the first run began).
	Start time.Time `json:"start"`
	// Next is the read time of the first interval whose uploads were not
	// all acknowledged: a restart generates again from there. Reads of
	// earlier intervals held back (out_of_order) are regenerated too, so
	// they still go out with the upload after theirs.
	Next time.Time `json:"next"`
	// Grid is the grid clock when the checkpoint was written.
	Grid time.Time `json:"grid"`
	// Ended is set once everything up to End (and the held-back reads)
	// has been published.
	Ended bool `json:"ended,omitempty"`
}

const checkpointVersion = 1

// scenarioID hashes what decides the readings a simulator publishes, so a
// checkpoint is only resumed by the same simulation.
func scenarioID(c Config, start time.Time) string {
	b, err := json.Marshal(struct {
		Fleet          FleetConfig
		Interval       time.Duration
		MaxUploadDelay time.Duration
		Faults         []Fault
		Start          time.Time
	}{c.Fleet, c.Interval, c.MaxUploadDelay, c.Faults, start.UTC()})
	if err != nil { // the fields are plain values
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// loadCheckpoint reads path; a missing file is (nil, nil).
func loadCheckpoint(path string) (*checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("simulator: checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("simulator: checkpoint %s: %w", path, err)
	}
	if cp.Version != checkpointVersion {
		return nil, fmt.Errorf("simulator: checkpoint %s: version %d, want %d", path, cp.Version, checkpointVersion)
	}
	return &cp, nil
}

// save writes cp to path atomically (a temporary file renamed over it).
func (cp *checkpoint) save(path string) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("simulator: checkpoint: %w", err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("simulator: checkpoint: %w", werr)
	}
	return nil
}
