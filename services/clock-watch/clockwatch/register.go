package clockwatch

import (
	"context"
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
		svc.Handle(rivers.NewRiver("*").Named("clock."+t).OnTopic(rivers.Topic(t)).Passive(), w.observe)
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

func (w *watch) observe(ctx context.Context, ev rivers.Event, pub rivers.Publisher) error {
	d, ok := rivers.DeliveryFrom(ctx)
	if !ok {
		return nil
	}
	w.mu.Lock()
	tr, changed := w.d.Observe(ev.Source(), ev.OccurredAt(), d.RecordTime)
	w.mu.Unlock()
	if !changed {
		return nil
	}
	log := rivers.Logger(ctx).With("source", tr.Source, "offset", tr.Offset, "samples", tr.Samples)
	if !tr.Skewed {
		log.Info("source clock back in step")
		return nil
	}
	log.Warn("source clock skewed")
	return pub.Publish(ctx, events.TypeClockSkew, Payload(tr, w.threshold), rivers.WithKey(tr.Source))
}
