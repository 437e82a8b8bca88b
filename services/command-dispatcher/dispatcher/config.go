package dispatcher

import (
	"errors"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/env"
	"time"

	"github.com/watershed-grid/watershed/ponds/hot"
)

// Name is the service name: its source is /services/command-dispatcher.
const Name = "command-dispatcher"

// Source is the ce_source of what the dispatcher publishes; meters (the
// simulator, the mqtt-gateway's downlink) act on meter.command.v1 only from
// it.
const Source = "/services/" + Name

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("command-dispatcher: invalid config")

// Meter checks of a request (Config.MeterCheck).
const (
	// MeterCheckHotPond: a request for a meter of which the Redis hot pond
	// (ponds/hot, written by hot-pond) holds no reading is dead-lettered.
	MeterCheckHotPond = "hot-pond"
	// MeterCheckOff: every meter id is taken.
	MeterCheckOff = "off"
)

// Config is the dispatcher's configuration. Times are the wall clock: a
// meter answers in real time, whatever the grid clock of a simulation.
type Config struct {
	// MaxAttempts is the attempts of a command whose request names none.
	// Default 3. DISPATCHER_MAX_ATTEMPTS.
	MaxAttempts int
	// AckTimeout is how long each attempt waits for its ack when the
	// request names no ack_timeout_s. Default 60s. DISPATCHER_ACK_TIMEOUT.
	AckTimeout time.Duration
	// Backoff is the pause after attempt n timed out, before attempt n+1:
	// Backoff·2^(n-1), at most MaxBackoff. Default 1s, 5m.
	// DISPATCHER_BACKOFF, DISPATCHER_BACKOFF_MAX.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Tick is the period of the timer that sends due attempts and
	// publishes outcomes. Default 100ms. DISPATCHER_TICK.
	Tick time.Duration
	// Batch is the most due commands one tick handles; Concurrency how
	// many of them at once. Default 1000, 16. DISPATCHER_BATCH,
	// DISPATCHER_CONCURRENCY.
	Batch       int
	Concurrency int
	// Reread: each meter.reading.missed.v1 becomes a read_now of its slot
	// (the self-healing loop). Default true. DISPATCHER_REREAD.
	Reread bool
	// RereadMaxConsecutive: a missed read with more consecutive misses than
	// this is not re-read (a silent meter, an outage: re-reading every slot
	// would flood a meter that is not there). Default 4.
	// DISPATCHER_REREAD_MAX_CONSECUTIVE.
	RereadMaxConsecutive int
	// RereadAttempts and RereadAckTimeout are the attempts and ack timeout
	// of a re-read; 0: MaxAttempts, AckTimeout.
	// DISPATCHER_REREAD_ATTEMPTS, DISPATCHER_REREAD_ACK_TIMEOUT.
	RereadAttempts   int
	RereadAckTimeout time.Duration
	// Retention is how long a finished command is remembered (a request
	// repeated within it is a duplicate). Default 168h.
	// DISPATCHER_RETENTION.
	Retention time.Duration
	// MeterCheck is MeterCheckHotPond (default) or MeterCheckOff.
	// DISPATCHER_METER_CHECK.
	MeterCheck string
	// KeyPrefix starts the dispatcher's Redis keys. Default "ws:cmd:".
	// DISPATCHER_KEY_PREFIX.
	KeyPrefix string
	// Redis is the store (REDIS_URL and the other REDIS_* variables of
	// ponds/hot).
	Redis hot.Config
}

// DefaultConfig returns the defaults documented on Config (Redis: the
// ponds/hot defaults).
func DefaultConfig() Config {
	return Config{
		MaxAttempts:          3,
		AckTimeout:           60 * time.Second,
		Backoff:              time.Second,
		MaxBackoff:           5 * time.Minute,
		Tick:                 100 * time.Millisecond,
		Batch:                1000,
		Concurrency:          16,
		Reread:               true,
		RereadMaxConsecutive: 4,
		Retention:            168 * time.Hour,
		MeterCheck:           MeterCheckHotPond,
		KeyPrefix:            "ws:cmd:",
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxAttempts < 1 || c.MaxAttempts > 100:
		return fmt.Errorf("%w: DISPATCHER_MAX_ATTEMPTS %d: want 1..100 (e.g. 3)", ErrInvalidConfig, c.MaxAttempts)
	case c.AckTimeout <= 0:
		return fmt.Errorf("%w: DISPATCHER_ACK_TIMEOUT %v: want > 0 (e.g. 60s)", ErrInvalidConfig, c.AckTimeout)
	case c.Backoff < 0:
		return fmt.Errorf("%w: DISPATCHER_BACKOFF %v: want >= 0 (e.g. 1s)", ErrInvalidConfig, c.Backoff)
	case c.MaxBackoff < c.Backoff:
		return fmt.Errorf("%w: DISPATCHER_BACKOFF_MAX %v: want >= DISPATCHER_BACKOFF %v", ErrInvalidConfig, c.MaxBackoff, c.Backoff)
	case c.Tick <= 0:
		return fmt.Errorf("%w: DISPATCHER_TICK %v: want > 0 (e.g. 100ms)", ErrInvalidConfig, c.Tick)
	case c.Batch < 1:
		return fmt.Errorf("%w: DISPATCHER_BATCH %d: want >= 1", ErrInvalidConfig, c.Batch)
	case c.Concurrency < 1:
		return fmt.Errorf("%w: DISPATCHER_CONCURRENCY %d: want >= 1", ErrInvalidConfig, c.Concurrency)
	case c.RereadMaxConsecutive < 1:
		return fmt.Errorf("%w: DISPATCHER_REREAD_MAX_CONSECUTIVE %d: want >= 1", ErrInvalidConfig, c.RereadMaxConsecutive)
	case c.RereadAttempts < 0 || c.RereadAttempts > 100:
		return fmt.Errorf("%w: DISPATCHER_REREAD_ATTEMPTS %d: want 0..100 (0: DISPATCHER_MAX_ATTEMPTS)", ErrInvalidConfig, c.RereadAttempts)
	case c.RereadAckTimeout < 0:
		return fmt.Errorf("%w: DISPATCHER_REREAD_ACK_TIMEOUT %v: want >= 0 (0: DISPATCHER_ACK_TIMEOUT)", ErrInvalidConfig, c.RereadAckTimeout)
	case c.Retention < time.Minute:
		return fmt.Errorf("%w: DISPATCHER_RETENTION %v: want >= 1m (e.g. 168h)", ErrInvalidConfig, c.Retention)
	case c.MeterCheck != MeterCheckHotPond && c.MeterCheck != MeterCheckOff:
		return fmt.Errorf("%w: DISPATCHER_METER_CHECK %q: want %q or %q", ErrInvalidConfig, c.MeterCheck, MeterCheckHotPond, MeterCheckOff)
	case c.KeyPrefix == "":
		return fmt.Errorf("%w: DISPATCHER_KEY_PREFIX is empty", ErrInvalidConfig)
	}
	return nil
}

// ConfigFromEnv returns DefaultConfig overridden by the DISPATCHER_* and
// REDIS_* environment variables (see the package documentation), validated.
func ConfigFromEnv() (Config, error) {
	c := DefaultConfig()
	r := env.New()
	r.Int("DISPATCHER_MAX_ATTEMPTS", &c.MaxAttempts)
	r.Duration("DISPATCHER_ACK_TIMEOUT", &c.AckTimeout)
	r.Duration("DISPATCHER_BACKOFF", &c.Backoff)
	r.Duration("DISPATCHER_BACKOFF_MAX", &c.MaxBackoff)
	r.Duration("DISPATCHER_TICK", &c.Tick)
	r.Int("DISPATCHER_BATCH", &c.Batch)
	r.Int("DISPATCHER_CONCURRENCY", &c.Concurrency)
	r.Bool("DISPATCHER_REREAD", &c.Reread)
	r.Int("DISPATCHER_REREAD_MAX_CONSECUTIVE", &c.RereadMaxConsecutive)
	r.Int("DISPATCHER_REREAD_ATTEMPTS", &c.RereadAttempts)
	r.Duration("DISPATCHER_REREAD_ACK_TIMEOUT", &c.RereadAckTimeout)
	r.Duration("DISPATCHER_RETENTION", &c.Retention)
	r.String("DISPATCHER_METER_CHECK", &c.MeterCheck)
	r.String("DISPATCHER_KEY_PREFIX", &c.KeyPrefix)
	var err error
	c.Redis, err = hot.ConfigFromEnv()
	r.Add(err)
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// backoff is the pause after attempt n (from 1) timed out.
func (c Config) backoff(n int) time.Duration {
	d := c.Backoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}
