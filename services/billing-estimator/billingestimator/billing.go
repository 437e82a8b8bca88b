package billingestimator

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

var errInterval = errors.New("interval_s must be positive")

func itoa(i int) string { return strconv.Itoa(i) }

// publish publishes an event for people and the ponds: a retired type
// (nobody reads it) is not an error that should stop the rest.
func publish(ctx context.Context, pub rivers.Publisher, typ string, data any, opts ...rivers.PublishOption) error {
	if err := pub.Publish(ctx, typ, data, opts...); err != nil && !errors.Is(err, rivers.ErrRetired) {
		return err
	}
	return nil
}

// day is one meter's billing day (UTC): the register at each interval
// boundary from midnight to the next, actual or estimated.
type day struct {
	start    time.Time
	reg      []float64
	kind     []uint8 // 0 unknown, 1 actual, 2 estimated
	revision int     // of the last publication; -1 before the first
	last     events.BillingPeriod
	dirty    bool // changed while the asker caught up: judged by release
}

const (
	unknown uint8 = iota
	actualValue
	estimatedValue
)

// setRegister records the register at t (an interval boundary) in the
// billing days it bounds, and publishes every day it completes or changes
// (or, while the asker catches up, leaves them to release).
func (s *service) setRegister(ctx context.Context, pub rivers.Publisher, m *meter, t time.Time, kwh float64, est bool) error {
	if m.interval <= 0 || 24*time.Hour%m.interval != 0 || t.Sub(t.Truncate(m.interval)) != 0 {
		return nil // only intervals that divide a day make billing days
	}
	n := int(24 * time.Hour / m.interval)
	start := t.Truncate(24 * time.Hour)
	kind := actualValue
	if est {
		kind = estimatedValue
	}
	gated := s.gated(ctx)
	var errs []error
	for _, ds := range []time.Time{start, start.Add(-24 * time.Hour)} {
		k := int(t.Sub(ds) / m.interval)
		if k < 0 || k > n {
			continue
		}
		d := s.dayOf(m, ds)
		if d == nil {
			continue
		}
		if d.kind[k] == actualValue && est {
			continue // an estimate never replaces an actual read
		}
		d.reg[k], d.kind[k] = kwh, kind
		if gated {
			d.dirty = true
			s.recheck[m.id] = true
			continue
		}
		errs = append(errs, s.publishDay(ctx, pub, m, d))
	}
	return errors.Join(errs...)
}

// dayOf returns the meter's billing day starting at ds, opened if it may
// be; nil if it may not (too old, or no interval that divides a day).
func (s *service) dayOf(m *meter, ds time.Time) *day {
	if d := m.days[ds]; d != nil {
		return d
	}
	if m.interval <= 0 || 24*time.Hour%m.interval != 0 || !s.openDay(m, ds) {
		return nil
	}
	n := int(24 * time.Hour / m.interval)
	d := &day{start: ds, reg: make([]float64, n+1), kind: make([]uint8, n+1), revision: -1}
	m.days[ds] = d
	return d
}

func sortedDays(m *meter) []time.Time {
	out := make([]time.Time, 0, len(m.days))
	for ds := range m.days {
		out = append(out, ds)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// openDay reports whether a day may be opened: not older than keepDays
// before the newest, whose opening drops the days too old. The days kept
// are those within keepDays of the newest, whatever the order they were
// opened in.
func (s *service) openDay(m *meter, ds time.Time) bool {
	newest := ds
	for t := range m.days {
		if t.After(newest) {
			newest = t
		}
	}
	if newest.Sub(ds) >= keepDays*24*time.Hour {
		return false
	}
	for t := range m.days {
		if newest.Sub(t) >= keepDays*24*time.Hour {
			delete(m.days, t)
		}
	}
	return true
}

// publishDay publishes d when every boundary is known and it differs from
// its last publication.
func (s *service) publishDay(ctx context.Context, pub rivers.Publisher, m *meter, d *day) error {
	p := events.BillingPeriod{MeterID: m.id, Period: "day", Start: d.start, End: d.start.Add(24 * time.Hour)}
	for k := range d.kind {
		if d.kind[k] == unknown {
			return nil
		}
		if k == 0 {
			continue
		}
		e := d.reg[k] - d.reg[k-1]
		if d.kind[k] == estimatedValue || d.kind[k-1] == estimatedValue {
			p.EstimatedKWh += e
			p.EstimatedIntervals++
		} else {
			p.MeasuredKWh += e
			p.MeasuredIntervals++
		}
	}
	p.TotalKWh = round3(d.reg[len(d.reg)-1] - d.reg[0])
	p.MeasuredKWh, p.EstimatedKWh = round3(p.MeasuredKWh), round3(p.EstimatedKWh)
	p.Revision = d.revision + 1
	if d.revision >= 0 {
		if sameFigures(d.last, p) {
			return nil
		}
	}
	id := events.ReadingID(m.id+"\nbilling.period.day\n"+itoa(p.Revision), d.start)
	if err := publish(ctx, pub, events.TypeBillingPeriod, contracts.Identified{ID: id, Data: p}); err != nil {
		return err
	}
	d.revision, d.last = p.Revision, p
	return s.publishMonth(ctx, pub, m, p)
}

// month is one meter's calendar month (UTC): the latest figures of each of
// its days published so far.
type month struct {
	days     map[time.Time]daySum
	revision int // of the last publication; -1 before the first
	last     events.BillingPeriod
}

// daySum is what a month keeps of one of its days.
type daySum struct {
	total, measured, estimated float64
	measuredN, estimatedN      int
	revision                   int
}

// monthOf returns the meter's month starting at ms; ref is the start of
// the period that brought it. Months keepDays past their end before the
// latest ref seen are forgotten (their days are closed: no correction
// comes), whatever the order the periods came in; nil if ms is one.
func (s *service) monthOf(m *meter, ms, ref time.Time) *month {
	if m.months == nil {
		m.months = map[time.Time]*month{}
	}
	if ref.After(m.monthRef) {
		m.monthRef = ref
	}
	tooOld := func(at time.Time) bool { return m.monthRef.Sub(at.AddDate(0, 1, 0)) >= keepDays*24*time.Hour }
	for at := range m.months {
		if tooOld(at) {
			delete(m.months, at)
		}
	}
	if tooOld(ms) {
		return nil
	}
	mo := m.months[ms]
	if mo == nil {
		mo = &month{days: map[time.Time]daySum{}, revision: -1}
		m.months[ms] = mo
	}
	return mo
}

// monthDay records a day's published figures in its month, unless a later
// revision of the day is recorded.
func (s *service) monthDay(m *meter, d events.BillingPeriod) *month {
	ms := time.Date(d.Start.Year(), d.Start.Month(), 1, 0, 0, 0, 0, time.UTC)
	mo := s.monthOf(m, ms, d.Start)
	if mo == nil {
		return nil
	}
	if prev, ok := mo.days[d.Start]; ok && prev.revision > d.Revision {
		return mo
	}
	mo.days[d.Start] = daySum{total: d.TotalKWh, measured: d.MeasuredKWh, estimated: d.EstimatedKWh,
		measuredN: d.MeasuredIntervals, estimatedN: d.EstimatedIntervals, revision: d.Revision}
	return mo
}

// publishMonth records a day's latest figures in its month and publishes
// the month once every day of it was published, and again whenever a
// day's correction changes it. A month is whole when the service saw every
// day of it published — by itself, or before a restart, replayed from its
// own billing periods when History covers the month. Months older than
// keepDays after their end are forgotten.
func (s *service) publishMonth(ctx context.Context, pub rivers.Publisher, m *meter, d events.BillingPeriod) error {
	mo := s.monthDay(m, d)
	if mo == nil {
		return nil
	}
	ms := time.Date(d.Start.Year(), d.Start.Month(), 1, 0, 0, 0, 0, time.UTC)
	me := ms.AddDate(0, 1, 0)
	if len(mo.days) < int(me.Sub(ms)/(24*time.Hour)) {
		return nil
	}
	p := events.BillingPeriod{MeterID: m.id, Period: "month", Start: ms, End: me}
	for _, ds := range sortedDaySums(mo) {
		p.TotalKWh += ds.total
		p.MeasuredKWh += ds.measured
		p.EstimatedKWh += ds.estimated
		p.MeasuredIntervals += ds.measuredN
		p.EstimatedIntervals += ds.estimatedN
	}
	p.TotalKWh, p.MeasuredKWh, p.EstimatedKWh = round3(p.TotalKWh), round3(p.MeasuredKWh), round3(p.EstimatedKWh)
	p.Revision = mo.revision + 1
	if mo.revision >= 0 {
		if sameFigures(mo.last, p) {
			return nil
		}
	}
	id := events.ReadingID(m.id+"\nbilling.period.month\n"+itoa(p.Revision), ms)
	if err := publish(ctx, pub, events.TypeBillingPeriod, contracts.Identified{ID: id, Data: p}); err != nil {
		return err
	}
	mo.revision, mo.last = p.Revision, p
	return nil
}

// sortedDaySums returns a month's days in time order: float sums in a
// fixed order give the same figures in every run.
func sortedDaySums(mo *month) []daySum {
	keys := make([]time.Time, 0, len(mo.days))
	for t := range mo.days {
		keys = append(keys, t)
	}
	slices.SortFunc(keys, time.Time.Compare)
	out := make([]daySum, len(keys))
	for i, t := range keys {
		out[i] = mo.days[t]
	}
	return out
}

// sameFigures reports whether two publications of a period say the same,
// whatever their revisions (times compared as instants: one may have been
// read back from the rivers).
func sameFigures(a, b events.BillingPeriod) bool {
	a.Revision, b.Revision = 0, 0
	if !a.Start.Equal(b.Start) || !a.End.Equal(b.End) {
		return false
	}
	a.Start, a.End, b.Start, b.End = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}
