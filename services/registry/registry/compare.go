package registry

import (
	"cmp"
	"context"
	"github.com/watershed-grid/watershed/rivers/landscape"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
)

// Rivers of the comparison of versions side by side. All are passive: the
// registry watches, it creates no demand.
const (
	RiverSolutions = "registry.solutions"
	RiverEstimates = "registry.estimates"
	RiverTrueUps   = "registry.trueups"
)

// DefaultComparePending is how many needs the comparison remembers the
// answers of while it waits for their true-up.
const DefaultComparePending = 100_000

// Comparison compares the versions of a service that answer the same
// needs (rivers need/solution): how many answers each gave, how often its
// answer was chosen, how far its answers were from the actual reads that
// arrived later (from the true-ups), and how long it took from need to
// solution. It is built from estimate.solution.v1, meter.reading.estimated.v1
// and meter.reading.adjusted.v1. Methods are safe for concurrent use.
type Comparison struct {
	max int

	mu       sync.Mutex
	versions map[solverKey]*versionStats
	pending  map[string][]answer // need id → answers, until its true-up
	order    []string            // need ids, oldest first (eviction)
}

type solverKey struct{ service, version string }

type answer struct {
	key      solverKey
	register float64
}

type versionStats struct {
	methods         map[string]bool
	answers, chosen int64
	trued           int64
	absErr, err     float64
	latencySum      time.Duration
	latencyMax      time.Duration
	latencyN        int64
	first, last     time.Time
}

// VersionComparison is one version's record.
type VersionComparison struct {
	Version string `json:"version"`
	// Methods are the methods its answers named.
	Methods []string `json:"methods"`
	// Live instances of the version in the registry (0: not running now).
	Instances int `json:"instances"`
	// Answers is the number of solutions it published.
	Answers int64 `json:"answers"`
	// Chosen is how many of them the asker took.
	Chosen int64 `json:"chosen"`
	// TruedUp is how many of its answers met the actual read later.
	TruedUp int64 `json:"trued_up"`
	// MeanAbsErrorKWh is the mean |answer − actual register| over those,
	// kWh; null before the first true-up.
	MeanAbsErrorKWh *float64 `json:"mean_abs_error_kwh"`
	// MeanErrorKWh is the mean answer − actual (bias: negative means low).
	MeanErrorKWh *float64 `json:"mean_error_kwh"`
	// MeanLatencyMS and MaxLatencyMS are the time from the need (its
	// asked_at) to the solution (its ce_time), in milliseconds.
	MeanLatencyMS float64 `json:"mean_latency_ms"`
	MaxLatencyMS  float64 `json:"max_latency_ms"`
	// FirstAnswer and LastAnswer bound the record.
	FirstAnswer time.Time `json:"first_answer"`
	LastAnswer  time.Time `json:"last_answer"`
}

// ServiceComparison is the answer of GET /v1/compare/{service}.
type ServiceComparison struct {
	Service  string              `json:"service"`
	Versions []VersionComparison `json:"versions"`
}

// NewComparison returns an empty comparison that remembers the answers of
// at most maxPending needs awaiting a true-up (DefaultComparePending when
// maxPending <= 0), forgetting the oldest first.
func NewComparison(maxPending int) *Comparison {
	if maxPending <= 0 {
		maxPending = DefaultComparePending
	}
	return &Comparison{max: maxPending, versions: map[solverKey]*versionStats{}, pending: map[string][]answer{}}
}

func (c *Comparison) stats(k solverKey) *versionStats {
	s := c.versions[k]
	if s == nil {
		s = &versionStats{methods: map[string]bool{}}
		c.versions[k] = s
	}
	return s
}

// Answered records a solution: solver at version answered need with a
// register estimate by method, latency after the need was asked.
func (c *Comparison) Answered(needID, solver, version, method string, register float64, latency time.Duration, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := solverKey{solver, version}
	s := c.stats(k)
	s.answers++
	s.methods[method] = true
	if latency >= 0 {
		s.latencySum += latency
		s.latencyN++
		s.latencyMax = max(s.latencyMax, latency)
	}
	if s.first.IsZero() || at.Before(s.first) {
		s.first = at
	}
	if at.After(s.last) {
		s.last = at
	}
	if _, ok := c.pending[needID]; !ok {
		c.order = append(c.order, needID)
		for len(c.order) > c.max {
			delete(c.pending, c.order[0])
			c.order = c.order[1:]
		}
	}
	for _, a := range c.pending[needID] {
		if a.key == k {
			return // a redelivery
		}
	}
	c.pending[needID] = append(c.pending[needID], answer{key: k, register: register})
}

// Chose records that the asker took solver's answer at version.
func (c *Comparison) Chose(solver, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats(solverKey{solver, version}).chosen++
}

// TruedUp records the actual register of a need's read: every answer to
// it is scored.
func (c *Comparison) TruedUp(needID string, actual float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	answers, ok := c.pending[needID]
	if !ok {
		return
	}
	for _, a := range answers {
		s := c.stats(a.key)
		s.trued++
		e := a.register - actual
		s.err += e
		s.absErr += math.Abs(e)
	}
	delete(c.pending, needID)
	if i := slices.Index(c.order, needID); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
}

// Service returns the comparison of service's versions, in version order;
// instances gives each version's live instances (nil: none known).
func (c *Comparison) Service(service string, instances func(version string) int) (ServiceComparison, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := ServiceComparison{Service: service}
	for k, s := range c.versions {
		if k.service != service {
			continue
		}
		v := VersionComparison{Version: k.version, Answers: s.answers, Chosen: s.chosen, TruedUp: s.trued,
			MaxLatencyMS: ms(s.latencyMax), FirstAnswer: s.first, LastAnswer: s.last}
		for m := range s.methods {
			v.Methods = append(v.Methods, m)
		}
		slices.Sort(v.Methods)
		if s.latencyN > 0 {
			v.MeanLatencyMS = ms(s.latencySum / time.Duration(s.latencyN))
		}
		if s.trued > 0 {
			abs, bias := round6(s.absErr/float64(s.trued)), round6(s.err/float64(s.trued))
			v.MeanAbsErrorKWh, v.MeanErrorKWh = &abs, &bias
		}
		if instances != nil {
			v.Instances = instances(k.version)
		}
		out.Versions = append(out.Versions, v)
	}
	slices.SortFunc(out.Versions, func(a, b VersionComparison) int { return cmp.Compare(a.Version, b.Version) })
	return out, len(out.Versions) > 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// WatchComparison feeds c from svc's passive rivers of estimate.solution.v1,
// meter.reading.estimated.v1 and meter.reading.adjusted.v1.
func WatchComparison(svc *rivers.Service, c *Comparison) {
	svc.Handle(rivers.NewRiver(events.TypeEstimateSolution).Named(RiverSolutions).Passive().
		Require(rivers.KeyNeedID, rivers.KeySolver, rivers.KeySolverVersion, rivers.KeyAskedAt, "method", "energy_kwh_total"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			var s struct {
				NeedID        string    `json:"need_id"`
				Solver        string    `json:"solver"`
				SolverVersion string    `json:"solver_version"`
				AskedAt       time.Time `json:"asked_at"`
				Method        string    `json:"method"`
				Register      float64   `json:"energy_kwh_total"`
			}
			if err := ev.Decode(&s); err != nil {
				return err
			}
			c.Answered(s.NeedID, s.Solver, s.SolverVersion, s.Method, s.Register, ev.OccurredAt().Sub(s.AskedAt), ev.OccurredAt())
			return nil
		})
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingEstimated).Named(RiverEstimates).Passive().
		Require("solver", "solver_version"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			solver, err := ev.String("solver")
			if err != nil {
				return err
			}
			version, err := ev.String("solver_version")
			if err != nil {
				return err
			}
			c.Chose(solver, version)
			return nil
		})
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingAdjusted).Named(RiverTrueUps).Passive().
		Require("need_id", "actual_energy_kwh_total"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			id, err := ev.String("need_id")
			if err != nil {
				return err
			}
			actual, err := ev.Float("actual_energy_kwh_total")
			if err != nil {
				return err
			}
			c.TruedUp(id, actual)
			return nil
		})
}

// MountCompare serves GET /v1/compare/{service}: 404 when no version of
// the service answered a need.
func MountCompare(m chi.Router, r *landscape.Registry, c *Comparison) {
	m.Get("/v1/compare/{service}", func(w http.ResponseWriter, req *http.Request) {
		name := chi.URLParam(req, "service")
		live, _ := r.Service(name)
		sc, ok := c.Service(name, func(version string) int {
			for _, v := range live.Versions {
				if v.Version == version {
					return len(v.Instances)
				}
			}
			return 0
		})
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no version of " + name + " answered a need"})
			return
		}
		writeJSON(w, http.StatusOK, sc)
	})
}
