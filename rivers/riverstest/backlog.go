package riverstest

import (
	"context"
	"sync/atomic"

	"github.com/watershed-grid/watershed/rivers"
)

// Backlog makes a service under test believe it is behind: every record it
// fetches reports n more records behind it (its Record.HighWaterMark is
// raised by n, so rivers.Delivery.Behind grows by n), as if the broker held
// n records of the partition the service has not read yet. Tests of
// monitors and event-time code use it to tell "nothing came" from "not read
// yet" without a loaded machine. The zero Backlog reports nothing more;
// Set may be called while the service runs.
type Backlog struct {
	n atomic.Int64
}

// WithBacklog serves the kit's service through b.
func WithBacklog(b *Backlog) Option { return func(k *Kit) { k.backlog = b } }

// Set sets the records reported behind every record fetched from now on.
func (b *Backlog) Set(n int64) { b.n.Store(max(n, 0)) }

func (b *Backlog) on(bus *Bus) rivers.Transport { return backlogTransport{bus, b} }

type backlogTransport struct {
	*Bus
	b *Backlog
}

func (t backlogTransport) Subscribe(ctx context.Context, group string, topics []string) (rivers.Subscription, error) {
	s, err := t.Bus.Subscribe(ctx, group, topics)
	if err != nil {
		return nil, err
	}
	return backlogSubscription{s, t.b}, nil
}

type backlogSubscription struct {
	rivers.Subscription
	b *Backlog
}

func (s backlogSubscription) Fetch(ctx context.Context) (rivers.Record, error) {
	r, err := s.Subscription.Fetch(ctx)
	if err == nil {
		if n := s.b.n.Load(); n > 0 {
			r.HighWaterMark = max(r.HighWaterMark, r.Offset+1) + n
		}
	}
	return r, err
}
