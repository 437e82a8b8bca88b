package hot

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultDedupWindow is how long a [DedupStore] remembers a key by default.
const DefaultDedupWindow = 10 * time.Minute

// DedupStore remembers which keys (event ids) a consumer has seen, so that
// a redelivered event is handled once: the Redis duplicate store of the
// rivers SDK (it has the method set of rivers.DedupStore). Keys live at
// <prefix>seen:<key> (ws:seen:<key> by default) and expire after the
// window. Safe for concurrent use, and shared by every instance of a
// service and across restarts, which is the point of keeping it in Redis.
type DedupStore struct {
	client redis.UniversalClient
	keys   keys
	window time.Duration
}

// DedupOptions tune a [DedupStore]. A nil *DedupOptions means all defaults.
type DedupOptions struct {
	// KeyPrefix starts every key. Default DefaultKeyPrefix ("ws:").
	KeyPrefix string
	// Window is how long a key is remembered. Default DefaultDedupWindow (10m).
	Window time.Duration
}

// NewDedupStore returns a DedupStore on client.
func NewDedupStore(client redis.UniversalClient, opts *DedupOptions) *DedupStore {
	o := DedupOptions{}
	if opts != nil {
		o = *opts
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.Window <= 0 {
		o.Window = DefaultDedupWindow
	}
	return &DedupStore{client: client, keys: keys{o.KeyPrefix}, window: o.Window}
}

// Seen records key and reports whether it had been recorded before, within
// the window of that first time. The first call for a key returns false,
// every later one true until the window has passed. It is one SET NX PX:
// atomic, so of two instances racing on one key exactly one sees false. An
// error means nothing is known.
func (d *DedupStore) Seen(ctx context.Context, key string) (bool, error) {
	ok, err := d.client.SetNX(ctx, d.keys.seen(key), 1, d.window).Result()
	if err != nil {
		return false, fmt.Errorf("hot pond: dedup %q: %w", boundedKey(key), err)
	}
	return !ok, nil
}

// Forget removes key, so the next Seen returns false: for an event whose
// processing did not complete and will be delivered again.
func (d *DedupStore) Forget(ctx context.Context, key string) error {
	if err := d.client.Del(ctx, d.keys.seen(key)).Err(); err != nil {
		return fmt.Errorf("hot pond: forget %q: %w", boundedKey(key), err)
	}
	return nil
}
