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
	// RateSpan is the record time over which a source's clock rate is
	// measured: ce_time's advance over the record time's, span after span.
	// A source is judged only once a span is measured and only while its
	// last span's rate is within [1/MaxRate, MaxRate] of the wall clock's.
	// Default 10s.
	RateSpan time.Duration
	// MaxRate bounds a wall clock's rate. A clock running faster or slower
	// than that is not skewed but another clock: a simulated grid (the
	// meter-simulator at 600x) or a replay of old events. Default 2.
	MaxRate float64
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
	if c.RateSpan <= 0 {
		c.RateSpan = 10 * time.Second
	}
	if c.MaxRate <= 1 {
		c.MaxRate = 2
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

// Clock is what a source's last measured span says of its clock.
type Clock int

const (
	// ClockUnknown: no span of RateSpan measured yet; not judged.
	ClockUnknown Clock = iota
	// ClockWall: ce_time advances with the record time; judged.
	ClockWall
	// ClockScaled: ce_time advances more than MaxRate times faster or
	// slower (a simulated grid clock, a replay); not judged.
	ClockScaled
)

func (c Clock) String() string {
	switch c {
	case ClockWall:
		return "wall"
	case ClockScaled:
		return "scaled"
	}
	return "unknown"
}

// SourceState is one source's current view.
type SourceState struct {
	Source   string
	Offset   time.Duration // current median offset
	Samples  int
	Skewed   bool
	LastSeen time.Time
	Clock    Clock
	Rate     float64 // ce_time's advance per record-time second over the last span
}

type source struct {
	ring   []time.Duration
	times  []time.Time // record time of each sample, same slots as ring
	next   int
	full   bool
	skewed bool
	last   time.Time

	// The span being measured starts at spanRec; spanCE is the latest
	// ce_time of the span before, maxCE the latest of this one. A source
	// stamps events of many clocks (a head-end, the simulator: every
	// meter's read time, some skewed), and the newest of them advances at
	// the source's clock's rate where any single sample need not. Per span,
	// so that a clock that steps back is measured again a span later.
	spanCE, spanRec, maxCE time.Time
	clock                  Clock
	rate                   float64
	wallSpans              int // consecutive spans at the wall clock's rate
}

// wallSpans is how many spans in a row a source's clock must run at the
// wall clock's rate before its offsets are judged.
const wallSpansToJudge = 2

// measure advances the source's rate span with one sample; when a span of
// RateSpan is complete it sets the clock and rate and starts the next span.
// A change of clock clears the window: offsets of a simulated clock say
// nothing of the wall clock's, and the other way round.
func (s *source) measure(ceTime, recordTime time.Time, cfg DetectorConfig) {
	if s.maxCE.IsZero() || ceTime.After(s.maxCE) {
		s.maxCE = ceTime
	}
	if s.spanRec.IsZero() {
		s.spanCE, s.spanRec = s.maxCE, recordTime
		return
	}
	rec := recordTime.Sub(s.spanRec)
	if rec < cfg.RateSpan {
		return
	}
	s.rate = float64(s.maxCE.Sub(s.spanCE)) / float64(rec)
	clock := ClockWall
	s.wallSpans++
	if s.rate > cfg.MaxRate || s.rate < 1/cfg.MaxRate {
		clock, s.wallSpans = ClockScaled, 0
	}
	if clock == ClockWall && s.wallSpans < wallSpansToJudge {
		// One span can look like the wall clock's by accident: a
		// simulated source that stalled while the ecosystem started, then
		// burst. Judge it only once its rate held for a second span.
		clock = ClockUnknown
	}
	if clock != s.clock {
		s.next, s.full = 0, false
	}
	s.clock = clock
	s.spanCE, s.spanRec, s.maxCE = s.maxCE, recordTime, time.Time{}
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
	s.last = recordTime
	s.measure(ceTime, recordTime, d.cfg)
	if s.clock != ClockWall {
		// A simulated or replayed clock is not a skewed one; a source not
		// measured yet is not judged either.
		return Transition{}, false
	}
	s.ring[s.next] = ceTime.Sub(recordTime)
	s.times[s.next] = recordTime
	s.next++
	if s.next == len(s.ring) {
		s.next, s.full = 0, true
	}
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
		st := SourceState{Source: name, Samples: len(s.samples()), Skewed: s.skewed, LastSeen: s.last, Clock: s.clock, Rate: s.rate}
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
