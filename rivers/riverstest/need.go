package riverstest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rivers"
)

// Asker is the asker name of the needs a Kit builds ([Kit.Need]).
const Asker = "riverstest"

// Need returns a need of typ asked by [Asker] at the clock's time with the
// deadline wait later (also its use-by), for a solver under test. build
// receives the need's identity and returns the payload. Send it with
// [Kit.Send]; the solutions the service publishes are
// kit.Published(solutionType).
func (k *Kit) Need(typ string, wait time.Duration, build func(rivers.NeedMeta) any) contracts.Event {
	k.t.Helper()
	now := k.clock.Now().UTC()
	m := rivers.NeedMeta{ID: contracts.NewID(), Asker: Asker, Deadline: now.Add(wait), AskedAt: now}
	e, err := contracts.New(Source, typ, contracts.Identified{ID: m.ID, Data: build(m)})
	if err != nil {
		k.t.Fatalf("riverstest: need %s: %v", typ, err)
	}
	e.Time = now
	e.ExpiryTime = m.Deadline
	return e
}

// Solution returns a solution of typ to need (an event the service
// published as an asker) from solver at version, derived from the need
// as a solver's would be, for an asker under test. build receives the
// solution's identity and returns the payload. Send it with [Kit.Send].
func (k *Kit) Solution(need contracts.Event, typ, solver, version string, build func(rivers.SolutionMeta) any) contracts.Event {
	k.t.Helper()
	m := NeedOf(k.t, need)
	sm := rivers.SolutionMeta{NeedID: m.ID, Asker: m.Asker, Solver: solver, SolverVersion: version, AskedAt: m.AskedAt}
	e, err := need.Derive("/services/"+solver, typ, build(sm))
	if err != nil {
		k.t.Fatalf("riverstest: solution %s: %v", typ, err)
	}
	e.Time = k.clock.Now().UTC()
	e.ExpiryTime = m.Deadline
	return e
}

// NeedOf reads the identity of a need event (need_id, asker, deadline, and
// its ce_time), failing the test when it lacks them.
func NeedOf(t interface {
	Helper()
	Fatalf(string, ...any)
}, e contracts.Event) rivers.NeedMeta {
	t.Helper()
	var p struct {
		NeedID   string    `json:"need_id"`
		Asker    string    `json:"asker"`
		Deadline time.Time `json:"deadline"`
	}
	if err := json.Unmarshal(e.Data, &p); err != nil || p.NeedID == "" || p.Asker == "" || p.Deadline.IsZero() {
		t.Fatalf("riverstest: %s %s is not a need (need_id, asker, deadline): %s %v", e.Type, e.ID, e.Data, err)
	}
	if p.NeedID != e.ID {
		t.Fatalf("riverstest: need %s: need_id %q is not its ce_id", e.ID, p.NeedID)
	}
	return rivers.NeedMeta{ID: p.NeedID, Asker: p.Asker, Deadline: p.Deadline, AskedAt: e.Time}
}

// Settle returns once the service has processed and committed every record
// on the bus of the topics it reads, including those it appended itself
// meanwhile (a service answering its own need): it waits until a round
// finds nothing new. With several services on one bus ([WithBus]), call it
// on each in the order the exchange flows.
func (k *Kit) Settle() {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	for {
		settled := true
		for _, topic := range k.svc.Topics() {
			n := int64(len(k.bus.Records(topic)))
			if n == 0 || k.bus.Committed(k.svc.Config().Group, topic) >= n {
				continue
			}
			settled = false
			if err := k.bus.WaitCommitted(ctx, k.svc.Config().Group, topic, n-1); err != nil {
				k.t.Fatalf("riverstest: %s not committed through offset %d after %s: %v", topic, n-1, k.timeout, err)
			}
		}
		if settled {
			return
		}
	}
}
