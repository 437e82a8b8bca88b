package hot

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// CheckpointStore keeps named opaque checkpoints in Redis at
// <prefix>checkpoint:<name> (ws:checkpoint:<name> by default), with no
// expiry: a service saves its state (the gap-detector its per-meter
// expectations) and loads it after a restart. Safe for concurrent use; the
// last Save of a name wins.
type CheckpointStore struct {
	client redis.UniversalClient
	keys   keys
}

// NewCheckpointStore returns a CheckpointStore on client with the key
// prefix (DefaultKeyPrefix when empty).
func NewCheckpointStore(client redis.UniversalClient, prefix string) *CheckpointStore {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &CheckpointStore{client: client, keys: keys{prefix}}
}

// Save replaces the checkpoint name with data, atomically.
func (s *CheckpointStore) Save(ctx context.Context, name string, data []byte) error {
	if err := s.client.Set(ctx, s.keys.checkpoint(name), data, 0).Err(); err != nil {
		return fmt.Errorf("hot pond: save checkpoint %q: %w", name, err)
	}
	return nil
}

// Load returns the checkpoint name, or an error wrapping ErrNotFound when
// none was saved.
func (s *CheckpointStore) Load(ctx context.Context, name string) ([]byte, error) {
	b, err := s.client.Get(ctx, s.keys.checkpoint(name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: checkpoint %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("hot pond: load checkpoint %q: %w", name, err)
	}
	return b, nil
}

// Delete removes the checkpoint name; deleting a missing one is no error.
func (s *CheckpointStore) Delete(ctx context.Context, name string) error {
	if err := s.client.Del(ctx, s.keys.checkpoint(name)).Err(); err != nil {
		return fmt.Errorf("hot pond: delete checkpoint %q: %w", name, err)
	}
	return nil
}
