package clockwatch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Register adds the clock watch to svc: a passive river of every event
// type on each of cfg.Topics (named "clock.<topic>"), comparing each
// event's ce_time with its record timestamp, a timer that forgets silent
// sources, and system.clock.skew.v1 when a source is newly skewed (keyed
// by the source).
func Register(svc *rivers.Service, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	w := &watch{d: NewDetector(cfg.DetectorConfig()), threshold: cfg.Threshold}
	svc.Publishes(events.TypeClockSkew)
	for _, t := range cfg.Topics {
		rivers.HandleBatch(svc, rivers.NewRiver("*").Named("clock."+t).OnTopic(rivers.Topic(t)).Passive(), w.observe)
	}
	svc.Every(cfg.ForgetAfter/4+time.Second, "forget", func(_ context.Context, now time.Time, _ rivers.Publisher) error {
		w.mu.Lock()
		w.d.Forget(now.Add(-cfg.ForgetAfter))
		w.mu.Unlock()
		return nil
	})
	return nil
}

type watch struct {
	mu        sync.Mutex
	d         *Detector
	threshold time.Duration
}

// observe compares the events of a batch with their record times under one
// lock, then logs and publishes the sources whose state changed. It reads
// no payload (struct{}): only ce_source and ce_time.
func (w *watch) observe(ctx context.Context, b *rivers.Batch[struct{}]) error {
	type change struct {
		i  int
		tr Transition
	}
	var changes []change
	w.mu.Lock()
	for i := range b.Len() {
		ev := b.Event(i)
		if tr, changed := w.d.Observe(ev.Source(), ev.OccurredAt(), b.Delivery(i).RecordTime); changed {
			changes = append(changes, change{i, tr})
		}
	}
	w.mu.Unlock()
	for _, c := range changes {
		tr := c.tr
		log := rivers.Logger(ctx).With("source", tr.Source, "offset", tr.Offset, "samples", tr.Samples)
		if !tr.Skewed {
			log.Info("source clock back in step")
			continue
		}
		log.Warn("source clock skewed")
		if err := b.Publisher(c.i).Publish(ctx, events.TypeClockSkew, Payload(tr, w.threshold), rivers.WithKey(tr.Source)); err != nil && !errors.Is(err, rivers.ErrRetired) {
			// The detector has moved on: retrying would not find the change again.
			log.Error("clock skew not published", "err", err)
		}
	}
	return nil
}
