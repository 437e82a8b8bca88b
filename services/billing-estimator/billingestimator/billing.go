package billingestimator

import (
	"context"
	"errors"
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
}

const (
	unknown uint8 = iota
	actualValue
	estimatedValue
)

// setRegister records the register at t (an interval boundary) in the
// billing days it bounds, and publishes every day it completes or changes.
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
	var errs []error
	for _, ds := range []time.Time{start, start.Add(-24 * time.Hour)} {
		k := int(t.Sub(ds) / m.interval)
		if k < 0 || k > n {
			continue
		}
		d := m.days[ds]
		if d == nil {
			if !s.openDay(m, ds) {
				continue
			}
			d = &day{start: ds, reg: make([]float64, n+1), kind: make([]uint8, n+1), revision: -1}
			m.days[ds] = d
		}
		if d.kind[k] == actualValue && est {
			continue // an estimate never replaces an actual read
		}
		d.reg[k], d.kind[k] = kwh, kind
		errs = append(errs, s.publishDay(ctx, pub, m, d))
	}
	return errors.Join(errs...)
}

// openDay reports whether a day may be opened: not older than keepDays
// before the newest, whose opening drops the days too old.
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
		prev := d.last
		prev.Revision = p.Revision
		if prev == p {
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
}

// publishMonth records a day's latest figures in its month and publishes
// the month once every day of it was published, and again whenever a
// day's correction changes it. A month whose first days the service never
// saw (it started mid-month) is not published. Months older than keepDays
// after their end are forgotten.
func (s *service) publishMonth(ctx context.Context, pub rivers.Publisher, m *meter, d events.BillingPeriod) error {
	ms := time.Date(d.Start.Year(), d.Start.Month(), 1, 0, 0, 0, 0, time.UTC)
	me := ms.AddDate(0, 1, 0)
	for at := range m.months {
		if d.Start.Sub(at.AddDate(0, 1, 0)) >= keepDays*24*time.Hour {
			delete(m.months, at)
		}
	}
	if m.months == nil {
		m.months = map[time.Time]*month{}
	}
	mo := m.months[ms]
	if mo == nil {
		mo = &month{days: map[time.Time]daySum{}, revision: -1}
		m.months[ms] = mo
	}
	mo.days[d.Start] = daySum{total: d.TotalKWh, measured: d.MeasuredKWh, estimated: d.EstimatedKWh,
		measuredN: d.MeasuredIntervals, estimatedN: d.EstimatedIntervals}
	if len(mo.days) < int(me.Sub(ms)/(24*time.Hour)) {
		return nil
	}
	p := events.BillingPeriod{MeterID: m.id, Period: "month", Start: ms, End: me}
	for _, ds := range mo.days {
		p.TotalKWh += ds.total
		p.MeasuredKWh += ds.measured
		p.EstimatedKWh += ds.estimated
		p.MeasuredIntervals += ds.measuredN
		p.EstimatedIntervals += ds.estimatedN
	}
	p.TotalKWh, p.MeasuredKWh, p.EstimatedKWh = round3(p.TotalKWh), round3(p.MeasuredKWh), round3(p.EstimatedKWh)
	p.Revision = mo.revision + 1
	if mo.revision >= 0 {
		prev := mo.last
		prev.Revision = p.Revision
		if prev == p {
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
