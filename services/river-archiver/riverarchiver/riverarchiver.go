package riverarchiver

import (
	"os"

	"github.com/watershed-grid/watershed/ponds/archiver"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the river archiver's service name.
const Name = "river-archiver"

// Config is the archiver's configuration (see package archiver); the
// river archiver's Topic defaults to rivers.Rivers.
type Config = archiver.Config

// DefaultConfig returns the archiver's defaults for the rivers topic.
func DefaultConfig() Config {
	c := archiver.DefaultConfig()
	c.Topic = rivers.Rivers
	return c
}

// ConfigFromEnv returns DefaultConfig with PONDS_URL, DATA_DIR and the
// ARCHIVE_* variables applied, validated.
func ConfigFromEnv() (Config, error) { return archiver.FromEnv(DefaultConfig(), os.LookupEnv) }

// Register adds the archiver of the rivers topic to svc (see
// archiver.Register). A zero cfg.Topic means rivers.Rivers.
func Register(svc *rivers.Service, cfg Config) error {
	if cfg.Topic == "" {
		cfg.Topic = rivers.Rivers
	}
	return archiver.Register(svc, cfg)
}
