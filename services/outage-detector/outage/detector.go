package outage

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers/eventtime"
)

// DetectorConfig parameterises a Detector; zero fields take the defaults
// of DefaultConfig.
type DetectorConfig struct {
	// AtEnd tells whether the service has read a rapids partition to its
	// end now (rivers.Service.AtEnd): a quiet partition is idle only then.
	// Nil: the evidence of its last record's fetch alone.
	AtEnd func(partition int) bool

	Threshold         float64
	RestoreShare      float64
	MinMeters         int
	Window            time.Duration
	PopulationHorizon time.Duration
	MaxClockSkew      time.Duration
	SkewConfirm       int
	IdleAfter         time.Duration
	// WarmUp (event time): after a start, nothing is suspected until the
	// reads watermark has passed the first read by this much, so that the
	// population of every transformer is known. Zero: no warm-up.
	WarmUp time.Duration
}

// Source is where a read came from: its rapids partition, how many records
// of the partition followed it when it was fetched (rivers.Delivery.Behind)
// and its broker record time. The zero Source is partition 0, read to its
// end, record time unknown.
type Source struct {
	Partition  int
	Behind     int64
	RecordTime time.Time
}

// pendingMissed is a missed read waiting for the reads to catch up.
type pendingMissed struct {
	meter, tx, feeder string
	expected          int64
}

type meter struct {
	id       string
	tx       *transformer
	lastRead int64 // read_at of the newest read (unix), 0 = none
	// lastMissed is the newest expected_at declared missed; the meter is
	// silent while lastMissed > lastRead.
	lastMissed  int64
	silentSince int64 // first missed expected_at of the current silence
	resumedAt   int64 // read_at of the read that ended the last silence
}

func (m *meter) silent() bool    { return m.lastMissed > m.lastRead }
func (m *meter) activity() int64 { return max(m.lastRead, m.lastMissed) }

type active struct {
	id          string
	firstSilent int64
	suspectedAt time.Time
	affected    map[*meter]bool
}

type transformer struct {
	id, feeder string
	meters     map[*meter]bool
	missed     []int64 // expected_at of recent missed events, for evidence
	powerFail  []int64 // read_at of recent reads flagged power_fail
	outage     *active
	dirty      bool
}

// Detector correlates missed reads per transformer: when the share of a
// transformer's meters that went silent within one window reaches the
// threshold (and at least MinMeters are silent), it suspects an outage;
// when the share of the outage's meters still silent falls below the
// restore share, the outage is restored. One suspected event per outage
// (hysteresis between the two shares). Times are event times. Not safe for
// concurrent use.
//
// A missed read is only believed once the detector has read the rapids far
// enough to know the meter did not report: once the reads watermark (the
// lowest latest read_at over the rapids partitions, package
// rivers/eventtime) has reached its expected time, or the detector has read
// every partition to its end. Until then it waits (Pending): a detector
// whose rapids reader is behind concludes late, never differently.
type Detector struct {
	cfg       DetectorConfig
	wm        *eventtime.Watermark
	pending   []pendingMissed
	read      bool  // a read was observed
	firstRead int64 // read_at of the first plausible read (unix), 0 = none
	meters    map[string]*meter
	txs       map[string]*transformer
}

// NewDetector returns an empty detector.
func NewDetector(cfg DetectorConfig) *Detector {
	d := DefaultConfig()
	if cfg.Threshold <= 0 {
		cfg.Threshold = d.Threshold
	}
	if cfg.RestoreShare <= 0 {
		cfg.RestoreShare = d.RestoreShare
	}
	if cfg.MinMeters <= 0 {
		cfg.MinMeters = d.MinMeters
	}
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.PopulationHorizon <= 0 {
		cfg.PopulationHorizon = d.PopulationHorizon
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = d.MaxClockSkew
	}
	if cfg.SkewConfirm <= 0 {
		cfg.SkewConfirm = d.SkewConfirm
	}
	if cfg.IdleAfter == 0 {
		cfg.IdleAfter = d.IdleAfter
	}
	return &Detector{
		cfg:    cfg,
		wm:     eventtime.New(eventtime.Config{MaxClockSkew: cfg.MaxClockSkew, SkewConfirm: cfg.SkewConfirm, IdleAfter: cfg.IdleAfter, AtEnd: cfg.AtEnd}),
		meters: make(map[string]*meter),
		txs:    make(map[string]*transformer),
	}
}

func (d *Detector) meter(id, tx, feeder string) *meter {
	m := d.meters[id]
	if m == nil {
		m = &meter{id: id}
		d.meters[id] = m
	}
	if m.tx == nil || m.tx.id != tx {
		if m.tx != nil {
			delete(m.tx.meters, m)
			m.tx.dirty = true
		}
		t := d.txs[tx]
		if t == nil {
			t = &transformer{id: tx, meters: make(map[*meter]bool)}
			d.txs[tx] = t
		}
		t.meters[m] = true
		m.tx = t
	}
	if feeder != "" {
		m.tx.feeder = feeder
	}
	return m
}

// ObserveRead records a meter's read (meter.reading.v1 from the rapids)
// from the zero Source: the meter is alive at readAt and belongs to the
// transformer.
func (d *Detector) ObserveRead(meterID, tx, feeder string, readAt time.Time, powerFail bool) {
	d.ObserveReadFrom(Source{}, meterID, tx, feeder, readAt, powerFail)
}

// ObserveReadFrom is ObserveRead for a read from src.
func (d *Detector) ObserveReadFrom(src Source, meterID, tx, feeder string, readAt time.Time, powerFail bool) {
	t := readAt.Unix()
	if meterID == "" || tx == "" {
		return
	}
	d.read = true
	if !d.wm.Observe(src.Partition, readAt, src.Behind, src.RecordTime) {
		return
	}
	if d.firstRead == 0 {
		d.firstRead = t
	}
	m := d.meter(meterID, tx, feeder)
	if powerFail {
		m.tx.powerFail = append(m.tx.powerFail, t)
	}
	if t <= m.lastRead {
		return
	}
	wasSilent := m.silent()
	m.lastRead = t
	switch {
	case wasSilent && !m.silent():
		m.resumedAt = t
		m.silentSince = 0
		m.tx.dirty = true
	case m.silent() && m.silentSince <= t:
		m.silentSince = t + 1
	}
}

// ObserveMissed records a meter.reading.missed.v1: the read expected at
// expectedAt did not come. It waits (see Pending) until the detector has
// read the rapids far enough to know.
func (d *Detector) ObserveMissed(meterID, tx, feeder string, expectedAt time.Time) {
	e := expectedAt.Unix()
	if meterID == "" || tx == "" || !d.wm.Plausible(expectedAt) {
		return
	}
	if !d.known(e) {
		d.pending = append(d.pending, pendingMissed{meter: meterID, tx: tx, feeder: feeder, expected: e})
		return
	}
	d.applyMissed(meterID, tx, feeder, e)
}

// known reports whether the reads read so far decide a slot expected at e:
// the reads watermark has reached it, or every rapids partition was read
// to its end.
func (d *Detector) known(e int64) bool {
	if v := d.wm.Value(); !v.IsZero() && v.Unix() >= e {
		return true
	}
	return d.read && d.wm.CaughtUp()
}

// release applies the pending missed reads that are known now, in the
// order they arrived.
func (d *Detector) release() {
	if len(d.pending) == 0 {
		return
	}
	kept := d.pending[:0]
	for _, p := range d.pending {
		if d.known(p.expected) {
			d.applyMissed(p.meter, p.tx, p.feeder, p.expected)
		} else {
			kept = append(kept, p)
		}
	}
	clear(d.pending[len(kept):])
	d.pending = kept
}

// warm reports whether the warm-up is over: the reads watermark passed the
// first read by WarmUp.
func (d *Detector) warm() bool {
	if d.cfg.WarmUp <= 0 {
		return true
	}
	v := d.wm.Value()
	return d.firstRead != 0 && !v.IsZero() && v.Unix() >= d.firstRead+int64(d.cfg.WarmUp/time.Second)
}

// Pending returns how many missed reads wait for the rapids reader to
// catch up.
func (d *Detector) Pending() int { return len(d.pending) }

func (d *Detector) applyMissed(meterID, tx, feeder string, e int64) {
	m := d.meter(meterID, tx, feeder)
	if e <= m.lastRead {
		return // stale: the meter reported after that slot
	}
	m.tx.missed = append(m.tx.missed, e)
	if !m.silent() || m.silentSince == 0 {
		m.silentSince = e
	}
	m.silentSince = min(m.silentSince, e)
	m.lastMissed = max(m.lastMissed, e)
	m.tx.dirty = true
}

// Evaluate applies the missed reads that became known, then decides, for
// every transformer whose meters changed since the last call, whether an
// outage starts or ends, calling suspected and restored. now stamps
// detected_at.
func (d *Detector) Evaluate(now time.Time, suspected func(events.OutageSuspected), restored func(events.OutageRestored)) {
	d.release()
	if !d.warm() {
		return // the transformers stay dirty: judged once warm
	}
	ids := make([]string, 0)
	for id, t := range d.txs {
		if t.dirty {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	pop := d.wm.Max().Unix() - int64(d.cfg.PopulationHorizon/time.Second)
	win := int64(d.cfg.Window / time.Second)
	for _, id := range ids {
		t := d.txs[id]
		t.dirty = false
		total := 0
		var silent []*meter
		for m := range t.meters {
			if m.activity() < pop {
				continue
			}
			total++
			if m.silent() {
				silent = append(silent, m)
			}
		}
		if total == 0 {
			continue
		}
		if t.outage == nil {
			d.maybeSuspect(t, silent, total, win, now, suspected)
			continue
		}
		o := t.outage
		for _, m := range silent {
			if m.silentSince >= o.firstSilent-win {
				o.affected[m] = true
			}
		}
		var still []string
		restoredAt := int64(0)
		for m := range o.affected {
			if m.silent() {
				still = append(still, m.id)
			} else if m.resumedAt >= o.firstSilent && (restoredAt == 0 || m.resumedAt < restoredAt) {
				restoredAt = m.resumedAt
			}
		}
		if float64(len(still))/float64(total) >= d.cfg.RestoreShare || restoredAt == 0 {
			continue
		}
		slices.Sort(still)
		restored(events.OutageRestored{
			OutageID: o.id, TransformerID: t.id, FeederID: t.feeder,
			FirstSilentAt: time.Unix(o.firstSilent, 0).UTC(), SuspectedAt: o.suspectedAt,
			RestoredAt: time.Unix(restoredAt, 0).UTC(), DurationSeconds: float64(restoredAt - o.firstSilent),
			MetersAffected: len(o.affected), MetersRestored: len(o.affected) - len(still),
			MetersStillSilent: still, DetectedAt: now.UTC(),
		})
		t.outage = nil
	}
}

func (d *Detector) maybeSuspect(t *transformer, silent []*meter, total int, win int64, now time.Time, suspected func(events.OutageSuspected)) {
	if len(silent) < d.cfg.MinMeters {
		return
	}
	latest := int64(0)
	for _, m := range silent {
		latest = max(latest, m.silentSince)
	}
	var in []*meter
	for _, m := range silent {
		if m.silentSince >= latest-win {
			in = append(in, m)
		}
	}
	share := float64(len(in)) / float64(total)
	if len(in) < d.cfg.MinMeters || share < d.cfg.Threshold {
		return
	}
	slices.SortFunc(in, func(a, b *meter) int { return cmp.Compare(a.id, b.id) })
	first := in[0].silentSince
	ids := make([]string, len(in))
	o := &active{id: contracts.NewID(), suspectedAt: now.UTC(), affected: make(map[*meter]bool)}
	for i, m := range in {
		ids[i] = m.id
		first = min(first, m.silentSince)
		o.affected[m] = true
	}
	o.firstSilent = first
	from := first - win
	t.missed = slices.DeleteFunc(t.missed, func(e int64) bool { return e < from })
	t.powerFail = slices.DeleteFunc(t.powerFail, func(e int64) bool { return e < from })
	t.outage = o
	suspected(events.OutageSuspected{
		OutageID: o.id, TransformerID: t.id, FeederID: t.feeder,
		MetersSilent: ids, MetersTotal: total, SilentShare: share,
		FirstSilentAt: time.Unix(first, 0).UTC(), DetectedAt: o.suspectedAt,
		Evidence: events.OutageEvidence{
			MissedReads: len(t.missed), PowerFailFlags: len(t.powerFail),
			WindowSeconds: d.cfg.Window.Seconds(), ThresholdShare: d.cfg.Threshold,
		},
	})
}

// Prune forgets evidence older than the window and meters not heard of
// within the population horizon.
func (d *Detector) Prune() {
	pop := d.wm.Max().Unix() - int64(d.cfg.PopulationHorizon/time.Second)
	from := d.wm.Max().Unix() - 2*int64(d.cfg.Window/time.Second)
	for id, m := range d.meters {
		if m.activity() < pop && (m.tx.outage == nil || !m.tx.outage.affected[m]) {
			delete(m.tx.meters, m)
			delete(d.meters, id)
		}
	}
	for id, t := range d.txs {
		t.missed = slices.DeleteFunc(t.missed, func(e int64) bool { return e < from })
		t.powerFail = slices.DeleteFunc(t.powerFail, func(e int64) bool { return e < from })
		if len(t.meters) == 0 && t.outage == nil {
			delete(d.txs, id)
		}
	}
}

// Active returns the ids of transformers with a suspected outage.
func (d *Detector) Active() []string {
	var ids []string
	for id, t := range d.txs {
		if t.outage != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
