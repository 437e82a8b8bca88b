package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/rapids"

	"github.com/watershed-grid/watershed/cmd/watershed/internal/ecosystem"
)

// endpointsFile is where `watershed dev` writes its addresses, in its data
// directory, so the other commands run from the same directory find it
// without flags.
const endpointsFile = "endpoints.json"

// defaultDataDir is dev's --data-dir default, where the other commands
// look for its endpoints.
const defaultDataDir = "./.watershed"

// devEndpoints is what a running `watershed dev` serves.
type devEndpoints struct {
	Broker   string            `json:"broker"`
	Registry string            `json:"registry,omitempty"`
	Pond     string            `json:"pond,omitempty"` // the history pond's folder, absolute
	Services map[string]string `json:"services"`       // name → base URL
}

func writeEndpoints(dataDir, broker string, st []ecosystem.Status) (remove func(), err error) {
	e := devEndpoints{Broker: broker, Services: map[string]string{}}
	if abs, err := filepath.Abs(filepath.Join(dataDir, "pond")); err == nil {
		e.Pond = abs
	}
	for _, s := range st {
		e.Services[s.Name] = "http://" + s.HTTPAddr
		if s.Name == "registry" {
			e.Registry = "http://" + s.HTTPAddr
		}
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, endpointsFile)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return func() { _ = os.Remove(path) }, nil
}

// runningDev returns the endpoints of the `watershed dev` whose data
// directory is ./.watershed, if one is running (it removes the file when it
// stops).
func runningDev() (devEndpoints, bool) {
	var e devEndpoints
	b, err := os.ReadFile(filepath.Join(defaultDataDir, endpointsFile))
	if err != nil || json.Unmarshal(b, &e) != nil {
		return devEndpoints{}, false
	}
	return e, true
}

// brokersOrDev returns the --brokers flag, else (with no KAFKA_BROKERS
// either) the broker of the watershed dev running in ./.watershed, else nil
// (the KAFKA_* defaults).
func brokersOrDev(flag []string) []string {
	if len(flag) > 0 || os.Getenv("KAFKA_BROKERS") != "" {
		return flag
	}
	if dev, ok := runningDev(); ok && dev.Broker != "" {
		return []string{dev.Broker}
	}
	return nil
}

// kafkaConfig is the rapids configuration of a CLI command: KAFKA_* over
// the defaults, its --brokers flag (else a running dev's broker), and a
// logger that prints errors only, to the command's stderr.
func kafkaConfig(cmd *cobra.Command, brokers []string) (rapids.Config, error) {
	cfg, err := rapids.ConfigFromEnv()
	if err != nil {
		return rapids.Config{}, err
	}
	if brokers := brokersOrDev(brokers); len(brokers) > 0 {
		cfg.Brokers = brokers
		if err := cfg.Validate(); err != nil {
			return rapids.Config{}, fmt.Errorf("--brokers: %w", err)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError}))
	return cfg, nil
}
