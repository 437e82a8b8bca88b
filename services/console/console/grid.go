package console

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// Outage is one outage as the console saw it: suspected, and restored
// once its outage.restored.v1 came.
type Outage struct {
	ID            string
	TransformerID string
	FeederID      string
	MetersSilent  int
	MetersTotal   int
	SilentShare   float64
	FirstSilentAt time.Time
	DetectedAt    time.Time
	RestoredAt    time.Time // zero while it lasts
	Duration      time.Duration
}

// Restored reports whether the outage is over.
func (o Outage) Restored() bool { return !o.RestoredAt.IsZero() }

// LoadPoint is one feeder.load.v1.
type LoadPoint struct {
	Start, End time.Time
	LoadKW     float64
	PeakKW     float64
	EnergyKWh  float64
}

// Feeder is the load of one feeder (or transformer) as feeder.load.v1 told.
type Feeder struct {
	Level  string // "feeder" or "transformer"
	ID     string
	Latest LoadPoint
	Points []LoadPoint // oldest first, at most Config.FeederHistory
	// Forecast is the newest feeder.load.forecast.v1 of a feeder, of the
	// best model the console prefers (day_type_profile), else nil.
	Forecast *Forecast
}

// Forecast is what the grid page shows of a feeder.load.forecast.v1: when
// the next 24 hours peak, and the next hour.
type Forecast struct {
	Model    string
	IssuedAt time.Time
	PeakKW   float64
	PeakAt   time.Time // start of the peak hour
	NextKW   float64   // the first hour's load
}

// preferredModel is the forecast model the grid page shows when both are
// published: the better one in the load-forecaster's backtest.
const preferredModel = "day_type_profile"

// RetirementNote is one system.retirement.v1.
type RetirementNote struct {
	At        time.Time
	Service   string
	EventType string
	Phase     string
	Reason    string
}

// HealthNote is one service up or down event.
type HealthNote struct {
	At       time.Time
	Service  string
	Instance string
	Up       bool
	Detail   string
}

// Grid is what the console keeps of the rivers: outages, feeder load,
// retirements and service health, since it started reading. Windows are
// judged on event time (the newest event's time seen), never the wall
// clock. Safe for concurrent use.
type Grid struct {
	history int

	mu          sync.Mutex
	outages     map[string]*Outage
	newest      time.Time // newest outage event time
	feeders     map[string]*Feeder
	retirements []RetirementNote
	health      []HealthNote
}

// Kept notes of retirement and health history.
const maxNotes = 200

// OutageWindow is how far back restored outages are listed.
const OutageWindow = 24 * time.Hour

// NewGrid returns an empty Grid keeping history load points per feeder.
func NewGrid(history int) *Grid {
	return &Grid{history: max(history, 1), outages: map[string]*Outage{}, feeders: map[string]*Feeder{}}
}

// Suspected records an outage.suspected.v1.
func (g *Grid) Suspected(o events.OutageSuspected) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, ok := g.outages[o.OutageID]
	if ok && cur.Restored() {
		return // a late duplicate of an outage already over
	}
	g.outages[o.OutageID] = &Outage{ID: o.OutageID, TransformerID: o.TransformerID, FeederID: o.FeederID,
		MetersSilent: len(o.MetersSilent), MetersTotal: o.MetersTotal, SilentShare: o.SilentShare,
		FirstSilentAt: o.FirstSilentAt, DetectedAt: o.DetectedAt}
	g.advance(o.DetectedAt)
}

// Restored records an outage.restored.v1.
func (g *Grid) Restored(o events.OutageRestored) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, ok := g.outages[o.OutageID]
	if !ok {
		cur = &Outage{ID: o.OutageID, TransformerID: o.TransformerID, FeederID: o.FeederID, FirstSilentAt: o.FirstSilentAt,
			DetectedAt: o.SuspectedAt, MetersTotal: o.MetersAffected}
		g.outages[o.OutageID] = cur
	}
	cur.MetersSilent = len(o.MetersStillSilent)
	cur.RestoredAt = o.RestoredAt
	cur.Duration = time.Duration(o.DurationSeconds * float64(time.Second))
	g.advance(o.RestoredAt)
}

func (g *Grid) advance(t time.Time) {
	if t.After(g.newest) {
		g.newest = t
	}
	for id, o := range g.outages {
		if o.Restored() && g.newest.Sub(o.RestoredAt) > OutageWindow {
			delete(g.outages, id)
		}
	}
}

// Outages returns the outages going on (newest first) and those restored
// within OutageWindow of the newest outage event (newest first).
func (g *Grid) Outages() (now, past []Outage) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, o := range g.outages {
		if o.Restored() {
			past = append(past, *o)
		} else {
			now = append(now, *o)
		}
	}
	slices.SortFunc(now, func(a, b Outage) int { return cmp.Or(b.DetectedAt.Compare(a.DetectedAt), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(past, func(a, b Outage) int { return cmp.Or(b.RestoredAt.Compare(a.RestoredAt), cmp.Compare(a.ID, b.ID)) })
	return now, past
}

// Load records a feeder.load.v1. Points come in event-time order per
// feeder; a point not after the latest is dropped (a repeat).
func (g *Grid) Load(l events.FeederLoad) {
	p := LoadPoint{Start: l.Start, End: l.End, LoadKW: l.LoadKW, EnergyKWh: l.EnergyKWh}
	if l.PeakLoadKW != nil {
		p.PeakKW = *l.PeakLoadKW
	}
	id := l.ID
	if id == "" {
		id = l.FeederID
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	k := l.Level + "/" + id
	f, ok := g.feeders[k]
	if !ok {
		f = &Feeder{Level: l.Level, ID: id}
		g.feeders[k] = f
	}
	if len(f.Points) > 0 && !p.Start.After(f.Latest.Start) {
		return
	}
	f.Latest = p
	f.Points = append(f.Points, p)
	if len(f.Points) > g.history {
		f.Points = slices.Delete(f.Points, 0, len(f.Points)-g.history)
	}
}

// LoadForecast records a feeder.load.forecast.v1: the newest issue per
// feeder, of the preferred model once one of it was seen.
func (g *Grid) LoadForecast(fc events.FeederLoadForecast) {
	if len(fc.Points) == 0 {
		return
	}
	out := Forecast{Model: fc.Model, IssuedAt: fc.IssuedAt, NextKW: fc.Points[0].LoadKW, PeakKW: fc.Points[0].LoadKW, PeakAt: fc.Points[0].Start}
	for _, p := range fc.Points[1:] {
		if p.LoadKW > out.PeakKW {
			out.PeakKW, out.PeakAt = p.LoadKW, p.Start
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	k := "feeder/" + fc.FeederID
	f, ok := g.feeders[k]
	if !ok {
		f = &Feeder{Level: "feeder", ID: fc.FeederID}
		g.feeders[k] = f
	}
	if old := f.Forecast; old != nil {
		if old.Model == preferredModel && fc.Model != preferredModel {
			return
		}
		if old.Model == fc.Model && fc.IssuedAt.Before(old.IssuedAt) {
			return
		}
	}
	f.Forecast = &out
}

// Feeders returns every feeder's load, feeders first, then by id.
func (g *Grid) Feeders() []Feeder {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Feeder, 0, len(g.feeders))
	for _, f := range g.feeders {
		c := *f
		c.Points = slices.Clone(f.Points)
		if f.Forecast != nil {
			fc := *f.Forecast
			c.Forecast = &fc
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Feeder) int {
		return cmp.Or(cmp.Compare(levelRank(a.Level), levelRank(b.Level)), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func levelRank(l string) int {
	if l == "feeder" {
		return 0
	}
	return 1
}

// Retirement records a system.retirement.v1.
func (g *Grid) Retirement(r events.Retirement) {
	g.mu.Lock()
	defer g.mu.Unlock()
	at := r.DecidedAt
	if at.IsZero() {
		at = r.EffectiveAt
	}
	g.retirements = appendCapped(g.retirements, RetirementNote{At: at, Service: r.Service, EventType: r.EventType, Phase: r.Phase, Reason: r.Reason})
}

// Health records a service going down or coming up.
func (g *Grid) Health(n HealthNote) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.health = appendCapped(g.health, n)
}

// Notes returns the retirement and health history, newest first.
func (g *Grid) Notes() ([]RetirementNote, []HealthNote) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, h := slices.Clone(g.retirements), slices.Clone(g.health)
	slices.Reverse(r)
	slices.Reverse(h)
	return r, h
}

func appendCapped[T any](s []T, v T) []T {
	s = append(s, v)
	if len(s) > maxNotes {
		s = slices.Delete(s, 0, len(s)-maxNotes)
	}
	return s
}
