package archiver

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/ponds/archive"
	"github.com/watershed-grid/watershed/rivers"
)

// Name is the raw archiver's service name.
const Name = "raw-archiver"

// Environment variables read by [ConfigFromEnv]; the defaults are on Config.
const (
	EnvPondsURL    = "PONDS_URL"
	EnvDataDir     = "DATA_DIR"
	EnvFlushRows   = "ARCHIVE_FLUSH_ROWS"
	EnvFlushBytes  = "ARCHIVE_FLUSH_BYTES"
	EnvFlushAge    = "ARCHIVE_FLUSH_AGE"
	EnvCompression = "ARCHIVE_COMPRESSION"
	EnvGroup       = "ARCHIVE_GROUP"
)

// GroupSuffix is appended to the service's consumer group to name the
// archiver's own group by default.
const GroupSuffix = "-pond"

// Defaults of Config.
const (
	DefaultPondDir      = "./.watershed/pond" // the `watershed ponds` default too
	DefaultFlushRows    = archive.DefaultMaxRows
	DefaultFlushBytes   = archive.DefaultMaxBytes
	DefaultFlushAge     = 10 * time.Second
	DefaultCompression  = archive.DefaultCompression
	DefaultPollInterval = 250 * time.Millisecond
	DefaultSlice        = 2 * time.Second
	DefaultLeaseTimeout = 10 * time.Second
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid archiver configuration")

// Config configures an archiver. A zero field takes its default.
type Config struct {
	// Topic is the topic archived: rivers.Rapids (raw-archiver, the
	// default) or rivers.Rivers (river-archiver), resolved through the
	// service's KAFKA_TOPIC_* names, or a literal topic name.
	Topic rivers.Topic
	// PondsURL is the pond's bucket (PONDS_URL): a path, file:///path,
	// s3://bucket?endpoint=...&use_path_style=true&region=..., gs://,
	// azblob:// (see archive.OpenBucket). Default: <DATA_DIR>/pond when
	// DATA_DIR is set, else ./.watershed/pond.
	PondsURL string
	// FlushRows ends a file at this many rows (ARCHIVE_FLUSH_ROWS).
	// Default 100,000.
	FlushRows int
	// FlushBytes ends a file at about this many buffered bytes
	// (ARCHIVE_FLUSH_BYTES). Default 32 MiB.
	FlushBytes int
	// FlushAge writes a file this long after its first row
	// (ARCHIVE_FLUSH_AGE, a Go duration). Default 10s, so the first files
	// of `watershed dev` appear within seconds.
	FlushAge time.Duration
	// Compression is the Parquet codec: zstd (default), snappy, gzip or
	// none (ARCHIVE_COMPRESSION).
	Compression string
	// Group is the consumer group of the archiver's consumer
	// (ARCHIVE_GROUP). Default: the service's group (KAFKA_GROUP, else the
	// service name) + "-pond". It must differ from the service's group,
	// which the SDK uses for its own system rivers.
	Group string
	// PollInterval is the period of the service timer that drives the
	// archiver. Default 250ms. Not read from the environment.
	PollInterval time.Duration
	// Slice bounds how long one timer run consumes before it returns to
	// the SDK (it always ends before HANDLER_TIMEOUT). Default 2s.
	Slice time.Duration
	// LeaseTimeout: when no timer run happened for this long, the service
	// has stopped, and the archiver writes what it holds, commits and
	// leaves the consumer group. Default 10s.
	LeaseTimeout time.Duration
}

// DefaultConfig returns the raw archiver's defaults: the rapids topic into
// ./.watershed/pond.
func DefaultConfig() Config {
	return Config{
		Topic:        rivers.Rapids,
		PondsURL:     DefaultPondDir,
		FlushRows:    DefaultFlushRows,
		FlushBytes:   DefaultFlushBytes,
		FlushAge:     DefaultFlushAge,
		Compression:  DefaultCompression,
		PollInterval: DefaultPollInterval,
		Slice:        DefaultSlice,
		LeaseTimeout: DefaultLeaseTimeout,
	}
}

// ConfigFromEnv returns DefaultConfig with the environment's PONDS_URL,
// DATA_DIR and ARCHIVE_* values applied, validated.
func ConfigFromEnv() (Config, error) { return FromEnv(DefaultConfig(), os.LookupEnv) }

// FromEnv applies the variables lookup finds to base and validates the
// result. river-archiver uses it with its own base.
func FromEnv(base Config, lookup func(string) (string, bool)) (Config, error) {
	c := base
	r := env.Lookup(lookup)
	r.String(EnvPondsURL, &c.PondsURL)
	if _, set := r.Get(EnvPondsURL); !set {
		if d, ok := r.Get(EnvDataDir); ok {
			c.PondsURL = filepath.Join(d, "pond")
		}
	}
	r.Int(EnvFlushRows, &c.FlushRows)
	r.Int(EnvFlushBytes, &c.FlushBytes)
	r.Duration(EnvFlushAge, &c.FlushAge)
	for _, v := range []struct {
		name string
		bad  bool
	}{{EnvFlushRows, c.FlushRows <= 0}, {EnvFlushBytes, c.FlushBytes <= 0}, {EnvFlushAge, c.FlushAge <= 0}} {
		if _, set := r.Get(v.name); set && v.bad {
			r.Problem(v.name, "want a positive value (e.g. 100000 rows, 33554432 bytes, 10s)")
		}
	}
	r.String(EnvGroup, &c.Group)
	r.String(EnvCompression, &c.Compression)
	c.Compression = strings.ToLower(c.Compression)
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Topic == "" {
		c.Topic = d.Topic
	}
	if c.PondsURL == "" {
		c.PondsURL = d.PondsURL
	}
	if c.FlushRows == 0 {
		c.FlushRows = d.FlushRows
	}
	if c.FlushBytes == 0 {
		c.FlushBytes = d.FlushBytes
	}
	if c.FlushAge == 0 {
		c.FlushAge = d.FlushAge
	}
	if c.Compression == "" {
		c.Compression = d.Compression
	}
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.Slice == 0 {
		c.Slice = d.Slice
	}
	if c.LeaseTimeout == 0 {
		c.LeaseTimeout = d.LeaseTimeout
	}
	return c
}

// Validate reports the first setting that cannot work, naming its
// variable. Zero fields are valid (they take their defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.FlushRows < 0:
		return fmt.Errorf("%w: %s must be positive, got %d", ErrConfig, EnvFlushRows, c.FlushRows)
	case c.FlushBytes < 0:
		return fmt.Errorf("%w: %s must be positive, got %d", ErrConfig, EnvFlushBytes, c.FlushBytes)
	case c.FlushAge < 0:
		return fmt.Errorf("%w: %s must be positive, got %s", ErrConfig, EnvFlushAge, c.FlushAge)
	case c.PollInterval < 0 || c.Slice < 0 || c.LeaseTimeout < 0:
		return fmt.Errorf("%w: PollInterval, Slice and LeaseTimeout must be positive", ErrConfig)
	case c.LeaseTimeout <= c.Slice+c.PollInterval:
		return fmt.Errorf("%w: LeaseTimeout %s must exceed Slice %s + PollInterval %s", ErrConfig, c.LeaseTimeout, c.Slice, c.PollInterval)
	}
	switch c.Compression {
	case "zstd", "snappy", "gzip", "none":
	default:
		return fmt.Errorf("%w: %s=%q: use zstd, snappy, gzip or none", ErrConfig, EnvCompression, c.Compression)
	}
	if strings.Contains(c.PondsURL, "://") {
		scheme, _, _ := strings.Cut(c.PondsURL, "://")
		ok := false
		for _, s := range archive.Schemes {
			ok = ok || s == scheme
		}
		if !ok {
			return fmt.Errorf("%w: %s scheme %q: use a path, file:///path, s3://bucket, gs://bucket or azblob://container", ErrConfig, EnvPondsURL, scheme)
		}
	}
	return nil
}
