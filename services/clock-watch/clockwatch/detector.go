package clockwatch

import (
	"slices"
	"time"
)

// DetectorConfig tunes a Detector.
type DetectorConfig struct {
	// Window is how many recent samples per source the median is taken
	// over. Default 21.
	Window int
	// MinSamples is how many samples a source needs before it is judged.
	// Default 5.
	MinSamples int
	// Threshold: a source whose median offset exceeds it (either sign) is
	// flagged as skewed. Default 30s.
	Threshold time.Duration
	// ClearBelow: a flagged source is cleared once its median offset falls
	// below it. Between ClearBelow and Threshold nothing changes
	// (hysteresis), so a source hovering at the threshold is not flagged
	// again and again. Default Threshold/2.
	ClearBelow time.Duration
	// MaxSources bounds memory: past it, new sources are not tracked.
	// Default 10000.
	MaxSources int
}

func (c DetectorConfig) withDefaults() DetectorConfig {
	if c.Window <= 0 {
		c.Window = 21
	}
	if c.MinSamples <= 0 {
		c.MinSamples = 5
	}
	if c.MinSamples > c.Window {
		c.MinSamples = c.Window
	}
	if c.Threshold <= 0 {
		c.Threshold = 30 * time.Second
	}
	if c.ClearBelow <= 0 || c.ClearBelow > c.Threshold {
		c.ClearBelow = c.Threshold / 2
	}
	if c.MaxSources <= 0 {
		c.MaxSources = 10000
	}
	return c
}

// Transition is a change of a source's verdict.
type Transition struct {
	Source  string
	Skewed  bool          // true: newly skewed; false: back within ClearBelow
	Offset  time.Duration // median of ce_time - record time over the window
	Samples int           // samples the median was taken over
	Window  time.Duration // time between the oldest and newest sample
	At      time.Time     // record time of the sample that caused it
}

// SourceState is one source's current view.
type SourceState struct {
	Source   string
	Offset   time.Duration // current median offset
	Samples  int
	Skewed   bool
	LastSeen time.Time
}

type source struct {
	ring   []time.Duration
	times  []time.Time // record time of each sample, same slots as ring
	next   int
	full   bool
	skewed bool
	last   time.Time
}

func (s *source) samples() []time.Duration {
	if s.full {
		return s.ring
	}
	return s.ring[:s.next]
}

// Detector tracks, per source, the offset between the time an event says
// it was made (ce_time) and the broker's record timestamp, and reports a
// source once when its median offset passes the threshold, and once when
// it comes back. It is not safe for concurrent use.
type Detector struct {
	cfg     DetectorConfig
	sources map[string]*source
	scratch []time.Duration
}

// NewDetector returns a detector; zero config fields take their defaults.
func NewDetector(cfg DetectorConfig) *Detector {
	cfg = cfg.withDefaults()
	return &Detector{cfg: cfg, sources: map[string]*source{}, scratch: make([]time.Duration, 0, cfg.Window)}
}

// Config returns the effective configuration, defaults applied.
func (d *Detector) Config() DetectorConfig { return d.cfg }

// Observe records one event of src and returns a transition when the
// source's verdict changed.
func (d *Detector) Observe(src string, ceTime, recordTime time.Time) (Transition, bool) {
	if src == "" || ceTime.IsZero() || recordTime.IsZero() {
		return Transition{}, false
	}
	s, ok := d.sources[src]
	if !ok {
		if len(d.sources) >= d.cfg.MaxSources {
			return Transition{}, false
		}
		s = &source{ring: make([]time.Duration, d.cfg.Window), times: make([]time.Time, d.cfg.Window)}
		d.sources[src] = s
	}
	s.ring[s.next] = ceTime.Sub(recordTime)
	s.times[s.next] = recordTime
	s.next++
	if s.next == len(s.ring) {
		s.next, s.full = 0, true
	}
	s.last = recordTime
	n := len(s.samples())
	if n < d.cfg.MinSamples {
		return Transition{}, false
	}
	med := d.median(s)
	abs := med.Abs()
	tr := Transition{Source: src, Offset: med, Samples: n, Window: s.span(), At: recordTime}
	switch {
	case !s.skewed && abs > d.cfg.Threshold:
		s.skewed, tr.Skewed = true, true
		return tr, true
	case s.skewed && abs < d.cfg.ClearBelow:
		s.skewed = false
		return tr, true
	}
	return Transition{}, false
}

// span is the time between the oldest and the newest sample.
func (s *source) span() time.Duration {
	var lo, hi time.Time
	n := len(s.samples())
	for _, t := range s.times[:n] {
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	return hi.Sub(lo)
}

func (d *Detector) median(s *source) time.Duration {
	d.scratch = append(d.scratch[:0], s.samples()...)
	slices.Sort(d.scratch)
	n := len(d.scratch)
	if n%2 == 1 {
		return d.scratch[n/2]
	}
	return (d.scratch[n/2-1] + d.scratch[n/2]) / 2
}

// Sources returns every tracked source's state, sorted by source.
func (d *Detector) Sources() []SourceState {
	out := make([]SourceState, 0, len(d.sources))
	for name, s := range d.sources {
		st := SourceState{Source: name, Samples: len(s.samples()), Skewed: s.skewed, LastSeen: s.last}
		if st.Samples > 0 {
			st.Offset = d.median(s)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b SourceState) int {
		if a.Source < b.Source {
			return -1
		}
		if a.Source > b.Source {
			return 1
		}
		return 0
	})
	return out
}

// Forget drops sources not seen since before cutoff, so a source that went
// away does not hold memory or a stale verdict.
func (d *Detector) Forget(cutoff time.Time) int {
	n := 0
	for name, s := range d.sources {
		if s.last.Before(cutoff) {
			delete(d.sources, name)
			n++
		}
	}
	return n
}
