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
	// Assigned returns the rapids partitions assigned to the service now
	// (rivers.Service.Assigned): one not read yet holds the watermark.
	Assigned func() ([]int, bool)

	Threshold         float64
	RestoreShare      float64
	MinMeters         int
	Window            time.Duration
	PopulationHorizon time.Duration
	History           time.Duration
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

// meter is one meter's recent history in event time (unix seconds): its
// reads and the reads declared missed that no read contradicts, each sorted
// and unique, kept History behind its newest.
type meter struct {
	id     string
	tx     *transformer
	reads  []int64
	missed []int64
	latest int64 // newest read_at or expected_at, 0 = none
}

// lastRead returns the newest read at or before t, 0 when none.
func (m *meter) lastRead(t int64) int64 {
	i, found := slices.BinarySearch(m.reads, t)
	if found {
		return t
	}
	if i == 0 {
		return 0
	}
	return m.reads[i-1]
}

// silentAt reports whether the meter was silent at event time t: a read
// declared missed at or before t, and no read since. start is the first
// missed expected_at of that silence.
func (m *meter) silentAt(t int64) (start int64, silent bool) {
	lr := m.lastRead(t)
	i, _ := slices.BinarySearch(m.missed, lr+1)
	if i < len(m.missed) && m.missed[i] <= t {
		return m.missed[i], true
	}
	return 0, false
}

// resumedAt returns the first read after the newest missed read in
// [from, t], when it is at or before t: the read that ended the meter's
// silence. 0 when none.
func (m *meter) resumedAt(from, t int64) int64 {
	j, found := slices.BinarySearch(m.missed, t)
	if found {
		j++
	}
	if j == 0 || m.missed[j-1] < from {
		return 0
	}
	e := m.missed[j-1]
	i, _ := slices.BinarySearch(m.reads, e+1)
	if i < len(m.reads) && m.reads[i] <= t {
		return m.reads[i]
	}
	return 0
}

// nextRead returns the first read after t, 0 when none.
func (m *meter) nextRead(t int64) int64 {
	i, _ := slices.BinarySearch(m.reads, t+1)
	if i < len(m.reads) {
		return m.reads[i]
	}
	return 0
}

func insertSorted(s []int64, v int64) ([]int64, bool) {
	if n := len(s); n == 0 || s[n-1] < v {
		return append(s, v), true
	}
	i, found := slices.BinarySearch(s, v)
	if found {
		return s, false
	}
	return slices.Insert(s, i, v), true
}

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
	// restoredAt ends the last outage: silences that started before it
	// belong to it and start no other.
	restoredAt int64
	// due are the event times at which the transformer's silences changed
	// (a missed read, a read that ended a silence), to be judged once the
	// reads have reached them.
	due map[int64]bool
}

// Detector correlates missed reads per transformer: when the share of a
// transformer's meters that went silent within one window reaches the
// threshold (and at least MinMeters are silent), it suspects an outage;
// when the share of the outage's meters still silent falls below the
// restore share, the outage is restored. One suspected event per outage
// (hysteresis between the two shares). Not safe for concurrent use.
//
// Times are event times, and so is the judgement: the detector keeps each
// meter's recent reads and missed reads and judges a transformer at the
// event times its silences changed (a missed expected_at, the read that
// ended a silence), on what those histories say about that instant. The
// order in which the two topics are read does not matter: missed reads
// that arrive after the reads that ended them (the rapids read ahead of
// the rivers) still make the outage, with the same times.
//
// A missed read is only believed once the detector has read the rapids far
// enough to know the meter did not report: once the reads watermark (the
// lowest latest read_at over the rapids partitions, package
// rivers/eventtime) has reached its expected time, or the detector has read
// every partition to its end. Until then it waits (Pending), and an instant
// is judged only once the reads have reached it: a detector whose rapids
// reader is behind concludes late, never differently.
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
	if cfg.History <= 0 {
		cfg.History = d.History
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
		wm:     eventtime.New(eventtime.Config{MaxClockSkew: cfg.MaxClockSkew, SkewConfirm: cfg.SkewConfirm, IdleAfter: cfg.IdleAfter, AtEnd: cfg.AtEnd, Assigned: cfg.Assigned}),
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
		}
		t := d.txs[tx]
		if t == nil {
			t = &transformer{id: tx, meters: make(map[*meter]bool), due: make(map[int64]bool)}
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
	prev := m.lastRead(t)
	var added bool
	if m.reads, added = insertSorted(m.reads, t); !added {
		return
	}
	m.latest = max(m.latest, t)
	// A read at a slot declared missed contradicts it (a late read); a
	// read after missed ones ends a silence: the transformer is judged
	// again at its time.
	i, _ := slices.BinarySearch(m.missed, prev+1)
	if i < len(m.missed) && m.missed[i] <= t {
		if j, found := slices.BinarySearch(m.missed, t); found {
			m.missed = slices.Delete(m.missed, j, j+1)
		}
		m.tx.due[t] = true
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
	if _, read := slices.BinarySearch(m.reads, e); read || e < m.latest-int64(d.cfg.History/time.Second) {
		return // contradicted by a read at that slot, or older than the history
	}
	var added bool
	if m.missed, added = insertSorted(m.missed, e); !added {
		return
	}
	m.latest = max(m.latest, e)
	m.tx.missed = append(m.tx.missed, e)
	m.tx.due[e] = true
	if r := m.nextRead(e); r != 0 {
		m.tx.due[r] = true // the silence already ended: judge its end too
	}
}

// Evaluate applies the missed reads that became known, then judges every
// transformer at the event times its silences changed, in order, once the
// reads have reached them, calling suspected and restored. now stamps
// detected_at and suspected_at.
func (d *Detector) Evaluate(now time.Time, suspected func(events.OutageSuspected), restored func(events.OutageRestored)) {
	d.release()
	if !d.warm() {
		return // the instants stay due: judged once warm
	}
	ids := make([]string, 0)
	for id, t := range d.txs {
		if len(t.due) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var times []int64
	for _, id := range ids {
		t := d.txs[id]
		times = times[:0]
		for at := range t.due {
			if d.known(at) {
				times = append(times, at)
			}
		}
		slices.Sort(times)
		for _, at := range times {
			delete(t.due, at)
			d.judge(t, at, now, suspected, restored)
		}
	}
}

// judge decides whether an outage of t starts or ends at event time at.
func (d *Detector) judge(t *transformer, at int64, now time.Time, suspected func(events.OutageSuspected), restored func(events.OutageRestored)) {
	pop := at - int64(d.cfg.PopulationHorizon/time.Second)
	win := int64(d.cfg.Window / time.Second)
	total := 0
	var silent []silence
	for m := range t.meters {
		if m.latest < pop {
			continue
		}
		total++
		if start, ok := m.silentAt(at); ok {
			silent = append(silent, silence{m, start})
		}
	}
	if total == 0 {
		return
	}
	if t.outage == nil {
		// Silences that started before the last restoration were that
		// outage's.
		silent = slices.DeleteFunc(silent, func(s silence) bool { return s.start < t.restoredAt })
		d.maybeSuspect(t, silent, total, win, now, suspected)
		return
	}
	o := t.outage
	for _, s := range silent {
		if s.start >= o.firstSilent-win {
			o.affected[s.m] = true
		}
	}
	var still []string
	restoredAt := int64(0)
	for m := range o.affected {
		if _, ok := m.silentAt(at); ok {
			still = append(still, m.id)
		} else if r := m.resumedAt(o.firstSilent-win, at); r >= o.firstSilent && (restoredAt == 0 || r < restoredAt) {
			restoredAt = r
		}
	}
	if float64(len(still))/float64(total) >= d.cfg.RestoreShare || restoredAt == 0 {
		return
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
	t.restoredAt = restoredAt
}

// silence is a meter silent at an instant, since start.
type silence struct {
	m     *meter
	start int64
}

func (d *Detector) maybeSuspect(t *transformer, silent []silence, total int, win int64, now time.Time, suspected func(events.OutageSuspected)) {
	if len(silent) < d.cfg.MinMeters {
		return
	}
	latest := int64(0)
	for _, s := range silent {
		latest = max(latest, s.start)
	}
	var in []silence
	for _, s := range silent {
		if s.start >= latest-win {
			in = append(in, s)
		}
	}
	share := float64(len(in)) / float64(total)
	if len(in) < d.cfg.MinMeters || share < d.cfg.Threshold {
		return
	}
	slices.SortFunc(in, func(a, b silence) int { return cmp.Compare(a.m.id, b.m.id) })
	first := in[0].start
	ids := make([]string, len(in))
	o := &active{id: contracts.NewID(), suspectedAt: now.UTC(), affected: make(map[*meter]bool)}
	for i, s := range in {
		ids[i] = s.m.id
		first = min(first, s.start)
		o.affected[s.m] = true
	}
	o.firstSilent = first
	from := first - win
	evidence := func(ts []int64) int {
		n := 0
		for _, e := range ts {
			if e >= from {
				n++
			}
		}
		return n
	}
	t.outage = o
	suspected(events.OutageSuspected{
		OutageID: o.id, TransformerID: t.id, FeederID: t.feeder,
		MetersSilent: ids, MetersTotal: total, SilentShare: share,
		FirstSilentAt: time.Unix(first, 0).UTC(), DetectedAt: o.suspectedAt,
		Evidence: events.OutageEvidence{
			MissedReads: evidence(t.missed), PowerFailFlags: evidence(t.powerFail),
			WindowSeconds: d.cfg.Window.Seconds(), ThresholdShare: d.cfg.Threshold,
		},
	})
}

// Prune forgets evidence older than the window, history older than
// History behind each meter's newest (keeping the read before it), instants
// older than History that were never reached, and meters not heard of
// within the population horizon.
func (d *Detector) Prune() {
	newest := d.wm.Max().Unix()
	pop := newest - int64(d.cfg.PopulationHorizon/time.Second)
	hist := int64(d.cfg.History / time.Second)
	from := newest - max(2*int64(d.cfg.Window/time.Second), hist)
	for id, m := range d.meters {
		if m.latest < pop && (m.tx.outage == nil || !m.tx.outage.affected[m]) {
			delete(m.tx.meters, m)
			delete(d.meters, id)
			continue
		}
		floor := m.latest - hist
		if i, _ := slices.BinarySearch(m.reads, floor); i > 1 {
			m.reads = slices.Delete(m.reads, 0, i-1)
		}
		if i, _ := slices.BinarySearch(m.missed, floor); i > 0 {
			m.missed = slices.Delete(m.missed, 0, i)
		}
	}
	for id, t := range d.txs {
		t.missed = slices.DeleteFunc(t.missed, func(e int64) bool { return e < from })
		t.powerFail = slices.DeleteFunc(t.powerFail, func(e int64) bool { return e < from })
		for at := range t.due {
			if at < newest-hist {
				delete(t.due, at)
			}
		}
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
