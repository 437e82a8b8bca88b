package simulator

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"time"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

// TypeFault is the event type of a fault command to the simulator.
const TypeFault = "simulator.fault.v1"

//go:embed schemas/simulator.fault.v1.json
var schemaFiles embed.FS

// Schemas returns the simulator's own event schemas (simulator.fault.v1),
// compiled as a catalog: a rivers.Validator to combine with the contracts
// catalog (rivers.Validators(catalog.Default(), simulator.Schemas())) in
// any service or test that publishes fault commands.
func Schemas() *catalog.Catalog {
	sub, err := fs.Sub(schemaFiles, "schemas")
	if err != nil {
		panic(err) // a constant path: cannot fail
	}
	c, err := catalog.Load(sub)
	if err != nil {
		panic("simulator: embedded schema does not compile: " + err.Error())
	}
	return c
}

// FaultCommand is the payload of simulator.fault.v1.
type FaultCommand struct {
	Kind   FaultKind `json:"kind"`
	Target string    `json:"target,omitempty"`
	Rate   float64   `json:"rate,omitempty"`
	// From defaults to now on the simulator's grid clock.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// DurationS is an alternative to To: grid seconds after From.
	DurationS float64 `json:"duration_s,omitempty"`
	// SkewS is the clock_skew offset in seconds.
	SkewS float64 `json:"skew_s,omitempty"`
}

// Fault turns the command into a Fault, with gridNow as the default From.
func (c FaultCommand) Fault(gridNow time.Time) (Fault, error) {
	f := Fault{Kind: c.Kind, Target: c.Target, Rate: c.Rate, From: c.From, To: c.To,
		Skew: time.Duration(c.SkewS * float64(time.Second))}
	if f.From.IsZero() {
		f.From = gridNow
	}
	if c.DurationS > 0 {
		if !c.To.IsZero() {
			return Fault{}, fmt.Errorf("%w: give to or duration_s, not both", ErrInvalidScenario)
		}
		f.To = f.From.Add(time.Duration(c.DurationS * float64(time.Second)))
	}
	return f, f.Validate()
}

// ParseFaultCommand decodes a simulator.fault.v1 payload.
func ParseFaultCommand(data []byte) (FaultCommand, error) {
	var c FaultCommand
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%w: %s: %w", ErrInvalidScenario, TypeFault, err)
	}
	return c, nil
}
