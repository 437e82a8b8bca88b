package gapdetector

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/watershed-grid/watershed/rivers/eventtime"
)

// ErrInvalidRead is wrapped by Observe's errors: the read cannot be tracked
// (no meter id, no time, an interval out of range). Such reads are permanent
// failures: dead-letter them.
var ErrInvalidRead = errors.New("gapdetector: invalid read")

// Read is what the tracker needs from one meter.reading.v1.
type Read struct {
	MeterID       string
	TransformerID string
	FeederID      string
	ReadAt        time.Time
	// Interval is the meter's read cadence (interval_s), 1 s to 1 day.
	Interval time.Duration
	// EnergyKWh is the register (energy_kwh_total).
	EnergyKWh float64
	// Partition is the input partition the read came from: the watermark
	// is the lowest of the partitions' latest read times.
	Partition int
	// Behind is how many records of the partition followed this one when
	// it was fetched (rivers.Delivery.Behind): a partition is idle only
	// when it was read to its end.
	Behind int64
	// RecordTime is the record's broker timestamp (rivers.Delivery.RecordTime);
	// zero when unknown.
	RecordTime time.Time
}

// Missed is one expected read that did not arrive within the grace period:
// a meter.reading.missed.v1.
type Missed struct {
	MeterID       string
	TransformerID string
	FeederID      string
	ExpectedAt    time.Time
	Interval      time.Duration
	// Consecutive counts the slots missing in a row up to this one, this one
	// included (1 for the first missed read after the last one received).
	Consecutive int
	// LastReadAt is the read_at of the last read received before the gap;
	// zero when not remembered.
	LastReadAt time.Time
	// LastEnergyKWh is that read's register, when remembered.
	LastEnergyKWh *float64
	// DetectedAt is the event time at which the read became missing:
	// ExpectedAt + grace period.
	DetectedAt time.Time
}

// Late is a read that arrived after its slot had been declared missed: it
// closes that gap (meter.reading.late.v1).
type Late struct {
	MeterID       string
	TransformerID string
	FeederID      string
	ReadAt        time.Time
	Interval      time.Duration
	EnergyKWh     float64
	// ReceivedAt is the event-time watermark when the read arrived.
	ReceivedAt time.Time
	// MissedDetectedAt is when the slot had become missing: read_at + grace.
	MissedDetectedAt time.Time
}

// Resumed is the first read received from a meter for a slot after a run
// of one or more slots declared missed: the meter reports again
// (meter.reading.resumed.v1). Reads for the run's own slots are Late, not
// Resumed.
type Resumed struct {
	MeterID       string
	TransformerID string
	FeederID      string
	ReadAt        time.Time
	// SilentSince is the expected time of the first missed slot of the run.
	SilentSince time.Time
	// Missed is how many slots of the run were declared missed.
	Missed   int
	Interval time.Duration
}

// Outcome classifies a read for the tracker.
type Outcome int

const (
	// Fresh: the newest read of its meter, or its first.
	Fresh Outcome = iota
	// OutOfOrder: older than the meter's newest read, for a slot not yet
	// declared missed.
	OutOfOrder
	// LateRead: for a slot already declared missed (see Observation.Late).
	LateRead
	// Duplicate: its slot was already received.
	Duplicate
	// TooOld: older than the 64 slots the tracker remembers per meter.
	TooOld
	// Implausible: too far ahead of the event-time watermark (a wrong clock).
	Implausible
)

var outcomeNames = [...]string{"fresh", "out_of_order", "late", "duplicate", "too_old", "implausible"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Observation is what one read changed.
type Observation struct {
	Outcome Outcome
	Late    *Late    // set when Outcome is LateRead
	Resumed *Resumed // set when the read ended a run of missed slots
}

// TrackerConfig parameterises a Tracker; zero fields take the defaults of
// DefaultConfig.
type TrackerConfig struct {
	// AtEnd tells whether the service has read a rapids partition to its
	// end now (rivers.Service.AtEnd): a quiet partition is idle only then.
	// Nil: the evidence of its last record's fetch alone.
	AtEnd func(partition int) bool
	// Assigned returns the rapids partitions assigned to the service now
	// (rivers.Service.Assigned): one not read yet holds the watermark.
	Assigned func() ([]int, bool)

	Grace          time.Duration
	MaxConsecutive int
	WarmUp         time.Duration
	MaxClockSkew   time.Duration
	SkewConfirm    int
	IdleAfter      time.Duration
	// PartitionWarmUp times the warm-up per input partition (from that
	// partition's first read) instead of from the tracker's first read: a
	// meter is then judged the same whichever instance holds its
	// partition (rivers.PartitionState). Checkpoints do not keep it.
	PartitionWarmUp bool
}

// dropped marks the state of a meter whose partition was dropped
// (meterState.ivIx): it is not judged, and its next read starts it afresh.
const dropped = 0xFFFF

// noWh marks an unknown register in meterState.lastWh.
const noWh = ^uint32(0)

// window is how many slots behind its newest read the tracker remembers
// per meter (one bit each).
const window = 64

// meterState is the whole per-meter state: 24 bytes.
//
// Slots are read times divided by the interval (rounded to the nearest), so
// a slot index fits 32 bits for any interval ≥ 1 s until 2106.
type meterState struct {
	head   uint32 // slot of the newest read received
	bitsLo uint32 // bit k: slot head-k received (k < 32)
	bitsHi uint32 // bit k-32 (32 ≤ k < 64)
	trafo  uint32 // index into Tracker.trafos
	lastWh uint32 // register of the head read in Wh, or noWh
	ivIx   uint16 // index into Tracker.intervals
	decl   int16  // last slot judged (received or declared missed) - head
}

func (m *meterState) bits() uint64     { return uint64(m.bitsHi)<<32 | uint64(m.bitsLo) }
func (m *meterState) setBits(b uint64) { m.bitsLo, m.bitsHi = uint32(b), uint32(b>>32) }

type trafo struct{ id, feeder string }

// Tracker holds the expected cadence and recent reads of every meter and
// decides which expected reads are missed. Time is event time: the
// watermark is the lowest, over the input partitions that are not idle, of
// their latest plausible read_at (package rivers/eventtime), and a slot is
// declared missed once the watermark has passed its expected time by the
// grace period. A Tracker is not safe for concurrent use.
type Tracker struct {
	cfg     TrackerConfig
	wm      *eventtime.Watermark
	meters  *internTable
	states  []meterState
	trafos  []trafo
	trafoIx map[trafo]uint32
	// intervals are the distinct cadences, in seconds.
	intervals []int64
	ivIx      map[int64]uint16
	// part is each meter's input partition (by meter index); warmPart the
	// end of each partition's warm-up (PartitionWarmUp).
	part     []int32
	warmPart map[int]int64
	gone     int // meters dropped

	// Warm-up: after a start, slots expected before suppressBefore are
	// judged without publishing.
	warm           warmState
	suppressBefore int64
	// saved is the warm-up as the checkpoint restored from had it: an
	// exact restore (Resume) continues it, so a slot the first start's
	// warm-up suppressed is not declared after a restart.
	saved struct {
		warm           warmState
		suppressBefore int64
	}

	// Counters since creation, for metrics.
	Suppressed uint64
	Capped     uint64
}

type warmState uint8

const (
	warmArmed  warmState = iota // waiting for the first read after a start
	warmActive                  // suppressBefore is set
)

// Resume ends the warm-up of a tracker restored from an exact state: a
// checkpoint saved after the consumer stopped cleanly, every read it holds
// committed and none committed that it lacks (Detector.Stopped). The
// warm-up guards against stale checkpoints; an exact one judges every slot
// as if the service had never stopped: with the warm-up of its first start
// where it was (slots it kept quiet stay quiet).
func (t *Tracker) Resume() {
	t.warm, t.suppressBefore = t.saved.warm, t.saved.suppressBefore
}

// NewTracker returns an empty tracker.
func NewTracker(cfg TrackerConfig) *Tracker {
	d := DefaultConfig()
	if cfg.Grace <= 0 {
		cfg.Grace = d.Grace
	}
	if cfg.MaxConsecutive <= 0 {
		cfg.MaxConsecutive = d.MaxConsecutive
	}
	if cfg.MaxConsecutive > maxConsecutiveLimit {
		cfg.MaxConsecutive = maxConsecutiveLimit
	}
	if cfg.WarmUp < 0 {
		cfg.WarmUp = 0
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
	return &Tracker{
		cfg:     cfg,
		wm:      eventtime.New(eventtime.Config{MaxClockSkew: cfg.MaxClockSkew, SkewConfirm: cfg.SkewConfirm, IdleAfter: cfg.IdleAfter, AtEnd: cfg.AtEnd, Assigned: cfg.Assigned}),
		meters:  newInternTable(),
		trafoIx: make(map[trafo]uint32),
		ivIx:    make(map[int64]uint16),
	}
}

func (t *Tracker) intervalIndex(iv int64) (uint16, bool) {
	if i, ok := t.ivIx[iv]; ok {
		return i, true
	}
	if len(t.intervals) >= dropped {
		return 0, false
	}
	i := uint16(len(t.intervals))
	t.intervals = append(t.intervals, iv)
	t.ivIx[iv] = i
	return i, true
}

func whOf(kwh float64) uint32 {
	wh := math.Round(kwh * 1000)
	if !(wh >= 0 && wh < float64(noWh)) {
		return noWh
	}
	return uint32(wh)
}

// maxConsecutiveLimit keeps decl within int16.
const maxConsecutiveLimit = 30000

// Meters returns how many meters are tracked.
func (t *Tracker) Meters() int { return len(t.states) - t.gone }

// DropPartition forgets the meters of an input partition and the
// partition's watermark: the partition moved to another instance, or its
// history is about to be replayed (rivers.PartitionState).
func (t *Tracker) DropPartition(p int) {
	for i := range t.states {
		if i < len(t.part) && int(t.part[i]) == p && t.states[i].ivIx != dropped {
			t.states[i] = meterState{ivIx: dropped}
			t.gone++
		}
	}
	delete(t.warmPart, p)
	t.wm.Forget(p)
}

// suppressed reports whether slot time at (unix seconds) of a meter of
// partition p falls in the warm-up.
func (t *Tracker) suppressed(p int32, at int64) bool {
	if !t.cfg.PartitionWarmUp {
		return at < t.suppressBefore
	}
	before, ok := t.warmPart[int(p)]
	return !ok || at < before
}

// Watermark returns the event-time watermark (zero before the first read).
func (t *Tracker) Watermark() time.Time {
	return t.wm.Max()
}

// LowWatermark returns the watermark slots are judged on: the lowest over
// the partitions that are not idle (zero before the first read).
func (t *Tracker) LowWatermark() time.Time {
	return t.wm.Value()
}

// CaughtUp reports whether every input partition was read to its end at
// its last read.
func (t *Tracker) CaughtUp() bool { return t.wm.CaughtUp() }

func (t *Tracker) trafoIndex(id, feeder string) uint32 {
	k := trafo{id, feeder}
	if i, ok := t.trafoIx[k]; ok {
		return i
	}
	i := uint32(len(t.trafos))
	t.trafos = append(t.trafos, k)
	t.trafoIx[k] = i
	return i
}

func slotOf(unix, interval int64) int64 { return (unix + interval/2) / interval }

// Observe records one read and reports what it changed.
func (t *Tracker) Observe(r Read) (Observation, error) {
	iv := int64(r.Interval / time.Second)
	switch {
	case r.MeterID == "":
		return Observation{}, fmt.Errorf("%w: no meter id", ErrInvalidRead)
	case r.ReadAt.IsZero() || r.ReadAt.Unix() <= 0:
		return Observation{}, fmt.Errorf("%w: meter %s: no read time", ErrInvalidRead, r.MeterID)
	case iv < 1 || iv > 86400:
		return Observation{}, fmt.Errorf("%w: meter %s: interval %v out of range 1s..24h", ErrInvalidRead, r.MeterID, r.Interval)
	}
	ivIx, ok := t.intervalIndex(iv)
	if !ok {
		return Observation{}, fmt.Errorf("%w: meter %s: too many distinct intervals", ErrInvalidRead, r.MeterID)
	}
	at := r.ReadAt.Unix()
	if !t.wm.Observe(r.Partition, r.ReadAt, r.Behind, r.RecordTime) {
		return Observation{Outcome: Implausible}, nil
	}
	if t.warm == warmArmed {
		t.warm = warmActive
		t.suppressBefore = at + int64(t.cfg.WarmUp/time.Second)
	}
	if t.cfg.PartitionWarmUp {
		if _, ok := t.warmPart[r.Partition]; !ok {
			if t.warmPart == nil {
				t.warmPart = map[int]int64{}
			}
			t.warmPart[r.Partition] = at + int64(t.cfg.WarmUp/time.Second)
		}
	}
	slot := slotOf(at, iv)
	tr := t.trafoIndex(r.TransformerID, r.FeederID)
	idx, added := t.meters.intern(r.MeterID)
	if added {
		t.states = append(t.states, meterState{})
		t.part = append(t.part, int32(r.Partition))
	}
	t.part[idx] = int32(r.Partition)
	m := &t.states[idx]
	if m.ivIx == dropped {
		t.gone--
		added = true
	}
	if added || m.ivIx != ivIx {
		*m = meterState{head: uint32(slot), bitsLo: 1, trafo: tr, ivIx: ivIx, lastWh: whOf(r.EnergyKWh)}
		return Observation{Outcome: Fresh}, nil
	}
	m.trafo = tr
	head := int64(m.head)
	declAbs := head + int64(m.decl)
	var obs Observation
	if slot > head {
		obs.Outcome = Fresh
		if declAbs > head && slot > declAbs {
			obs.Resumed = &Resumed{
				MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
				ReadAt: r.ReadAt.UTC(), SilentSince: time.Unix((head+1)*iv, 0).UTC(),
				Missed: int(declAbs - head), Interval: r.Interval,
			}
		}
		if slot <= declAbs && !t.suppressed(t.part[idx], slot*iv) {
			obs.Outcome = LateRead
			obs.Late = t.late(r, slot, iv)
		}
		shift := slot - head
		b := uint64(0)
		if shift < window {
			b = m.bits() << uint(shift)
		}
		m.setBits(b | 1)
		m.head = uint32(slot)
		m.lastWh = whOf(r.EnergyKWh)
		m.decl = int16(max(declAbs-slot, -window))
		return obs, nil
	}
	k := head - slot
	if k >= window {
		return Observation{Outcome: TooOld}, nil
	}
	b := m.bits()
	if b&(1<<uint(k)) != 0 {
		return Observation{Outcome: Duplicate}, nil
	}
	m.setBits(b | 1<<uint(k))
	if slot <= declAbs && !t.suppressed(t.part[idx], slot*iv) {
		return Observation{Outcome: LateRead, Late: t.late(r, slot, iv)}, nil
	}
	return Observation{Outcome: OutOfOrder}, nil
}

func (t *Tracker) late(r Read, slot, iv int64) *Late {
	return &Late{
		MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
		ReadAt: r.ReadAt.UTC(), Interval: r.Interval, EnergyKWh: r.EnergyKWh,
		ReceivedAt:       t.wm.Max().Truncate(time.Second),
		MissedDetectedAt: time.Unix(slot*iv, 0).Add(t.cfg.Grace).UTC(),
	}
}

// Advance declares missed every slot whose expected time plus the grace
// period the watermark has passed and whose read has not arrived, calling
// emit for each (at most MaxConsecutive per run of silence per meter). It
// returns the number emitted. During warm-up after a start, slots expected
// before the first read's time plus WarmUp are judged without emitting.
func (t *Tracker) Advance(emit func(Missed)) int {
	if t.wm.Max().IsZero() || t.warm == warmArmed {
		return 0
	}
	limitT := t.wm.Value().Unix() - int64(t.cfg.Grace/time.Second)
	if limitT <= 0 {
		return 0
	}
	maxRun := int64(t.cfg.MaxConsecutive)
	n := 0
	for i := range t.states {
		m := &t.states[i]
		if m.ivIx == dropped {
			continue
		}
		iv := t.intervals[m.ivIx]
		limit := limitT / iv // the last slot whose expected time + grace ≤ watermark
		head := int64(m.head)
		declAbs := head + int64(m.decl)
		if declAbs >= limit || declAbs-head >= maxRun {
			continue
		}
		b := m.bits()
		s := max(declAbs+1, head-window+1)
		for ; s <= limit; s++ {
			run := s - head
			if run > maxRun {
				t.Capped++
				s = head + maxRun
				break
			}
			if run <= 0 && b&(1<<uint(-run)) != 0 {
				continue
			}
			if t.suppressed(t.part[i], s*iv) {
				t.Suppressed++
				continue
			}
			tr := t.trafos[m.trafo]
			ms := Missed{
				MeterID: t.meters.id(uint32(i)), TransformerID: tr.id, FeederID: tr.feeder,
				ExpectedAt: time.Unix(s*iv, 0).UTC(), Interval: time.Duration(iv) * time.Second,
				DetectedAt: time.Unix(s*iv, 0).Add(t.cfg.Grace).UTC(),
			}
			if run > 0 {
				ms.Consecutive = int(run)
				ms.LastReadAt = time.Unix(head*iv, 0).UTC()
				if m.lastWh != noWh {
					kwh := float64(m.lastWh) / 1000
					ms.LastEnergyKWh = &kwh
				}
			} else {
				// An isolated gap: count the unreceived slots before it.
				k := -run
				for ms.Consecutive = 1; k+1 < window && b&(1<<uint(k+1)) == 0; k++ {
					ms.Consecutive++
				}
				if k+1 < window {
					ms.LastReadAt = time.Unix((head-k-1)*iv, 0).UTC()
				}
			}
			emit(ms)
			n++
		}
		if s > limit {
			s = limit
		}
		m.decl = int16(max(s-head, -window))
	}
	return n
}
